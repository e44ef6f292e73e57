{#- One row per product that sold on an order that is neither rejected (4) nor
    cancelled (6). Cost is the product's current standard cost. -#}
with

orders as (

    select * from {{ ref('slv_orders') }}

),

order_lines as (

    select * from {{ ref('slv_order_lines') }}

),

products as (

    select * from {{ ref('slv_products') }}

),

counted_lines as (

    select order_lines.*
    from order_lines
    inner join orders
        on order_lines.sales_order_id = orders.sales_order_id
    where orders.status not in (4, 6)

),

sales_per_product as (

    select
        product_id,
        count(distinct sales_order_id) as order_count,
        sum(order_qty) as units_sold,
        sum(line_total) as revenue

    from counted_lines
    group by product_id

),

costed as (

    select
        sales_per_product.product_id,
        products.product_number,
        products.product_name,
        products.subcategory_name,
        products.category_name,
        sales_per_product.order_count,
        sales_per_product.units_sold,
        sales_per_product.revenue,
        sales_per_product.units_sold * products.standard_cost as standard_cost_total

    from sales_per_product
    left join products
        on sales_per_product.product_id = products.product_id

),

final as (

    select
        product_id,
        product_number,
        product_name,
        subcategory_name,
        category_name,
        cast(order_count as {{ dbt.type_bigint() }}) as order_count,
        cast(units_sold as {{ dbt.type_bigint() }}) as units_sold,
        cast(revenue as decimal(38, 6)) as revenue,
        cast(standard_cost_total as decimal(38, 6)) as standard_cost_total,
        cast(revenue - standard_cost_total as decimal(38, 6)) as gross_margin

    from costed

)

select * from final
