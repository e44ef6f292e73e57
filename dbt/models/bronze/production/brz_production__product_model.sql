with

source as (

    select * from {{ source('production', 'ProductModel') }}

),

renamed as (

    select
        cast(ProductModelID as {{ dbt.type_int() }}) as product_model_id,
        cast(Name as {{ medallion.type_text() }}) as product_model_name,
        cast(CatalogDescription as {{ medallion.type_long_text() }}) as catalog_description,
        cast(Instructions as {{ medallion.type_long_text() }}) as instructions,
        cast(rowguid as {{ medallion.type_text() }}) as row_guid,
        cast(ModifiedDate as {{ dbt.type_timestamp() }}) as modified_at,
        cast(_loaded_at as {{ dbt.type_timestamp() }}) as _loaded_at,
        cast(_source_file as {{ medallion.type_text() }}) as _source_file

    from source

)

select * from renamed
