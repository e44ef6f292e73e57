with

source as (

    select * from {{ source('sales', 'Store') }}

),

renamed as (

    select
        cast(BusinessEntityID as {{ dbt.type_int() }}) as store_id,
        cast(Name as {{ medallion.type_text() }}) as store_name,
        cast(SalesPersonID as {{ dbt.type_int() }}) as sales_person_id,
        cast(Demographics as {{ medallion.type_long_text() }}) as demographics,
        cast(rowguid as {{ medallion.type_text() }}) as row_guid,
        cast(ModifiedDate as {{ dbt.type_timestamp() }}) as modified_at,
        cast(_loaded_at as {{ dbt.type_timestamp() }}) as _loaded_at,
        cast(_source_file as {{ medallion.type_text() }}) as _source_file

    from source

)

select * from renamed
