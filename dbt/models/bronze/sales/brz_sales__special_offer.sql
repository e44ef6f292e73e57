with

source as (

    select * from {{ source('sales', 'SpecialOffer') }}

),

renamed as (

    select
        cast(SpecialOfferID as {{ dbt.type_int() }}) as special_offer_id,
        cast(Description as {{ medallion.type_text() }}) as special_offer_description,
        cast(DiscountPct as decimal(19, 4)) as discount_pct,
        cast(Type as {{ medallion.type_text() }}) as special_offer_type,
        cast(Category as {{ medallion.type_text() }}) as special_offer_category,
        cast(StartDate as {{ dbt.type_timestamp() }}) as starts_at,
        cast(EndDate as {{ dbt.type_timestamp() }}) as ends_at,
        cast(MinQty as {{ dbt.type_int() }}) as min_qty,
        cast(MaxQty as {{ dbt.type_int() }}) as max_qty,
        cast(rowguid as {{ medallion.type_text() }}) as row_guid,
        cast(ModifiedDate as {{ dbt.type_timestamp() }}) as modified_at,
        cast(_loaded_at as {{ dbt.type_timestamp() }}) as _loaded_at,
        cast(_source_file as {{ medallion.type_text() }}) as _source_file

    from source

)

select * from renamed
