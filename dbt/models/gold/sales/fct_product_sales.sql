{#- One row per product that sold on an order that is neither rejected (4) nor
    cancelled (6). Cost is the product's current standard cost. A view over the
    incremental fct_product_sales_state without its emptied products; publish_layer
    copies the products that changed into gold.fct_product_sales. -#}
with

product_state as (

    select * from {{ ref('fct_product_sales_state') }}

),

final as (

    select
        product_id,
        product_number,
        product_name,
        subcategory_name,
        category_name,
        order_count,
        units_sold,
        revenue,
        standard_cost_total,
        gross_margin

    from product_state
    where order_count > 0

)

select * from final
