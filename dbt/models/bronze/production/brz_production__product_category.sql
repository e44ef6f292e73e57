with

source as (

    select * from {{ source('production', 'ProductCategory') }}

),

renamed as (

    select
        cast(ProductCategoryID as {{ dbt.type_int() }}) as product_category_id,
        cast(Name as {{ medallion.type_text() }}) as category_name,
        cast(rowguid as {{ medallion.type_text() }}) as row_guid,
        cast(ModifiedDate as {{ dbt.type_timestamp() }}) as modified_at,
        cast(_loaded_at as {{ dbt.type_timestamp() }}) as _loaded_at,
        cast(_source_file as {{ medallion.type_text() }}) as _source_file

    from source

)

select * from renamed
