{{ config(tags=['gold']) }}

{#- Each total of gold.fct_product_sales equals, to the cent, the same total computed
    line by line from silver (statuses 4 and 6 excluded). One row per measure that
    differs.
    Batch scope (macros/gate_scope.sql): the products the batch touched, on both sides. -#}
with

fct_product_sales as (

    select * from {{ ref('fct_product_sales') }} as gold
    where {{ medallion.in_batch_keys(ref('fct_product_sales_state'), ['product_id'], 'gold') }}

),

orders as (

    select * from {{ ref('slv_orders') }}

),

order_lines as (

    select * from {{ ref('slv_order_lines') }} as lines
    where {{ medallion.in_batch_keys(ref('fct_product_sales_state'), ['product_id'], 'lines') }}

),

products as (

    select * from {{ ref('slv_products') }}

),

counted_lines as (

    select
        order_lines.sales_order_id,
        order_lines.product_id,
        order_lines.order_qty,
        order_lines.line_total,
        order_lines.order_qty * products.standard_cost as line_standard_cost

    from order_lines
    inner join orders
        on order_lines.sales_order_id = orders.sales_order_id
    left join products
        on order_lines.product_id = products.product_id
    where {{ medallion.counted_order('orders.status') }}

),

product_orders as (

    select distinct
        product_id,
        sales_order_id

    from counted_lines

),

gold_totals as (

    select
        count(*) as product_count,
        sum(order_count) as order_count,
        sum(units_sold) as units_sold,
        sum(revenue) as revenue,
        sum(standard_cost_total) as standard_cost_total,
        sum(gross_margin) as gross_margin

    from fct_product_sales

),

silver_line_totals as (

    select
        count(distinct product_id) as product_count,
        sum(order_qty) as units_sold,
        sum(line_total) as revenue,
        sum(line_standard_cost) as standard_cost_total,
        sum(line_total) - sum(line_standard_cost) as gross_margin

    from counted_lines

),

silver_order_total as (

    select count(*) as order_count
    from product_orders

),

compared as (

    select
        'product_count' as measure,
        cast(coalesce(gold_totals.product_count, 0) as decimal(38, 6)) as gold_total,
        cast(coalesce(silver_line_totals.product_count, 0) as decimal(38, 6)) as silver_total
    from gold_totals
    cross join silver_line_totals

    union all

    select
        'order_count' as measure,
        cast(coalesce(gold_totals.order_count, 0) as decimal(38, 6)) as gold_total,
        cast(coalesce(silver_order_total.order_count, 0) as decimal(38, 6)) as silver_total
    from gold_totals
    cross join silver_order_total

    union all

    select
        'units_sold' as measure,
        cast(coalesce(gold_totals.units_sold, 0) as decimal(38, 6)) as gold_total,
        cast(coalesce(silver_line_totals.units_sold, 0) as decimal(38, 6)) as silver_total
    from gold_totals
    cross join silver_line_totals

    union all

    select
        'revenue' as measure,
        cast(coalesce(gold_totals.revenue, 0) as decimal(38, 6)) as gold_total,
        cast(coalesce(silver_line_totals.revenue, 0) as decimal(38, 6)) as silver_total
    from gold_totals
    cross join silver_line_totals

    union all

    select
        'standard_cost_total' as measure,
        cast(coalesce(gold_totals.standard_cost_total, 0) as decimal(38, 6)) as gold_total,
        cast(coalesce(silver_line_totals.standard_cost_total, 0) as decimal(38, 6)) as silver_total
    from gold_totals
    cross join silver_line_totals

    union all

    select
        'gross_margin' as measure,
        cast(coalesce(gold_totals.gross_margin, 0) as decimal(38, 6)) as gold_total,
        cast(coalesce(silver_line_totals.gross_margin, 0) as decimal(38, 6)) as silver_total
    from gold_totals
    cross join silver_line_totals

)

select *
from compared
where gold_total <> silver_total
