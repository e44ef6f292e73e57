with

source as (

    select * from {{ source('sales', 'SpecialOfferProduct') }}

),

renamed as (

    select
        cast(SpecialOfferID as {{ dbt.type_int() }}) as special_offer_id,
        cast(ProductID as {{ dbt.type_int() }}) as product_id,
        cast(rowguid as {{ medallion.type_text() }}) as row_guid,
        cast(ModifiedDate as {{ dbt.type_timestamp() }}) as modified_at,
        cast(_loaded_at as {{ dbt.type_timestamp() }}) as _loaded_at,
        cast(_source_file as {{ medallion.type_text() }}) as _source_file

    from source

)

select * from renamed
