with

source as (

    select * from {{ source('sales', 'Customer') }}

),

renamed as (

    select
        cast(CustomerID as {{ dbt.type_int() }}) as customer_id,
        cast(PersonID as {{ dbt.type_int() }}) as person_id,
        cast(StoreID as {{ dbt.type_int() }}) as store_id,
        cast(TerritoryID as {{ dbt.type_int() }}) as territory_id,
        cast(AccountNumber as {{ medallion.type_text() }}) as account_number,
        cast(rowguid as {{ medallion.type_text() }}) as row_guid,
        cast(ModifiedDate as {{ dbt.type_timestamp() }}) as modified_at,
        cast(_loaded_at as {{ dbt.type_timestamp() }}) as _loaded_at,
        cast(_source_file as {{ medallion.type_text() }}) as _source_file

    from source

)

select * from renamed
