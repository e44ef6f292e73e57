with

source as (

    select * from {{ source('sales', 'SalesOrderDetail') }}

),

renamed as (

    select
        cast(SalesOrderID as {{ dbt.type_int() }}) as sales_order_id,
        cast(SalesOrderDetailID as {{ dbt.type_int() }}) as sales_order_detail_id,
        cast(CarrierTrackingNumber as {{ medallion.type_text() }}) as carrier_tracking_number,
        cast(OrderQty as smallint) as order_qty,
        cast(ProductID as {{ dbt.type_int() }}) as product_id,
        cast(SpecialOfferID as {{ dbt.type_int() }}) as special_offer_id,
        cast(UnitPrice as decimal(19, 4)) as unit_price,
        cast(UnitPriceDiscount as decimal(19, 4)) as unit_price_discount,
        cast(LineTotal as decimal(38, 6)) as line_total,
        cast(rowguid as {{ medallion.type_text() }}) as row_guid,
        cast(ModifiedDate as {{ dbt.type_timestamp() }}) as modified_at,
        cast(_loaded_at as {{ dbt.type_timestamp() }}) as _loaded_at,
        cast(_source_file as {{ medallion.type_text() }}) as _source_file

    from source

)

select * from renamed
