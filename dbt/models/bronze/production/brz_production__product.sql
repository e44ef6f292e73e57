with

source as (

    select * from {{ source('production', 'Product') }}

),

renamed as (

    select
        cast(ProductID as {{ dbt.type_int() }}) as product_id,
        cast(Name as {{ medallion.type_text() }}) as product_name,
        cast(ProductNumber as {{ medallion.type_text() }}) as product_number,
        cast(MakeFlag as {{ dbt.type_boolean() }}) as is_manufactured,
        cast(FinishedGoodsFlag as {{ dbt.type_boolean() }}) as is_finished_good,
        cast(Color as {{ medallion.type_text() }}) as color,
        cast(SafetyStockLevel as smallint) as safety_stock_level,
        cast(ReorderPoint as smallint) as reorder_point,
        cast(StandardCost as decimal(19, 4)) as standard_cost,
        cast(ListPrice as decimal(19, 4)) as list_price,
        cast(Size as {{ medallion.type_text() }}) as size,
        cast(SizeUnitMeasureCode as {{ medallion.type_text() }}) as size_unit_measure_code,
        cast(WeightUnitMeasureCode as {{ medallion.type_text() }}) as weight_unit_measure_code,
        cast(Weight as decimal(8, 2)) as weight,
        cast(DaysToManufacture as {{ dbt.type_int() }}) as days_to_manufacture,
        cast(ProductLine as {{ medallion.type_text() }}) as product_line,
        cast(Class as {{ medallion.type_text() }}) as product_class,
        cast(Style as {{ medallion.type_text() }}) as product_style,
        cast(ProductSubcategoryID as {{ dbt.type_int() }}) as product_subcategory_id,
        cast(ProductModelID as {{ dbt.type_int() }}) as product_model_id,
        cast(SellStartDate as {{ dbt.type_timestamp() }}) as sell_start_at,
        cast(SellEndDate as {{ dbt.type_timestamp() }}) as sell_end_at,
        cast(DiscontinuedDate as {{ dbt.type_timestamp() }}) as discontinued_at,
        cast(rowguid as {{ medallion.type_text() }}) as row_guid,
        cast(ModifiedDate as {{ dbt.type_timestamp() }}) as modified_at,
        cast(_loaded_at as {{ dbt.type_timestamp() }}) as _loaded_at,
        cast(_source_file as {{ medallion.type_text() }}) as _source_file

    from source

)

select * from renamed
