with

product_checks as (

    select * from {{ ref('slv_product_checks') }}

),

final as (

    select
        product_id,
        product_number,
        product_name,
        product_subcategory_id,
        subcategory_name,
        product_category_id,
        category_name,
        standard_cost,
        list_price,
        color,
        product_line,
        is_finished_good,
        sell_start_at,
        sell_end_at,
        modified_at,
        _loaded_at,
        quarantine_reasons,
        {{ medallion.batch_at() }} as quarantined_at

    from product_checks
    where quarantine_reasons <> ''

)

select * from final
