{{ config(tags=['gold']) }}
{#- Each total of gold.fct_product_sales equals, to the cent, the same total computed line
    by line from silver (statuses 4 and 6 excluded), proven through the ledger the totals
    are added from (product_sales_ledger):
    1. the products' totals equal their ledger rows summed, and the cost total and margin
       follow from the units and the product's standard cost;
    2. each order's ledger rows, summed per product, equal what its counted lines in silver
       contribute now (one order, the units, the line totals).
    One row per measure that differs (for 2: the (order, product) pairs that differ).
    Batch scope (macros/gate_scope.sql): the products the batch touched (1) and the orders
    it appended ledger rows for (2); every other order was checked by the batch that last
    changed it, so the touched products' totals are proven without reading their history
    of lines. The full check reads everything. -#}
{%- set product_measures = [
    'product_count', 'order_count', 'units_sold', 'revenue', 'standard_cost_total', 'gross_margin'
] %}

with

fct_product_sales as (

    select * from {{ ref('fct_product_sales') }} as gold
    where {{ medallion.in_batch_keys(ref('fct_product_sales_state'), ['product_id'], 'gold') }}

),

product_ledger as (

    select * from {{ ref('product_sales_ledger') }} as ledger
    where {{ medallion.in_batch_keys(ref('fct_product_sales_state'), ['product_id'], 'ledger') }}

),

order_ledger as (

    select * from {{ ref('product_sales_ledger') }} as ledger
    where {{ medallion.in_batch_keys(ref('product_sales_ledger'), ['sales_order_id'], 'ledger') }}

),

orders as (

    select * from {{ ref('slv_orders') }} as orders
    where {{ medallion.in_batch_keys(ref('product_sales_ledger'), ['sales_order_id'], 'orders') }}

),

order_lines as (

    select * from {{ ref('slv_order_lines') }} as lines
    where {{ medallion.in_batch_keys(ref('product_sales_ledger'), ['sales_order_id'], 'lines') }}

),

products as (

    select * from {{ ref('slv_products') }}

),

ledger_per_product as (

    select
        product_ledger.product_id,
        sum(product_ledger.order_count) as order_count,
        sum(product_ledger.units_sold) as units_sold,
        sum(product_ledger.revenue) as revenue,
        sum(product_ledger.units_sold) * max(products.standard_cost) as standard_cost_total

    from product_ledger
    left join products
        on product_ledger.product_id = products.product_id
    group by product_ledger.product_id
    having sum(product_ledger.order_count) <> 0

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

ledger_totals as (

    select
        count(*) as product_count,
        sum(order_count) as order_count,
        sum(units_sold) as units_sold,
        sum(revenue) as revenue,
        sum(standard_cost_total) as standard_cost_total,
        sum(revenue) - sum(standard_cost_total) as gross_margin

    from ledger_per_product

),

ledger_per_order as (

    select
        sales_order_id,
        product_id,
        sum(order_count) as order_count,
        sum(units_sold) as units_sold,
        sum(revenue) as revenue

    from order_ledger
    group by
        sales_order_id,
        product_id

),

silver_per_order as (

    select
        order_lines.sales_order_id,
        order_lines.product_id,
        1 as order_count,
        sum(order_lines.order_qty) as units_sold,
        sum(order_lines.line_total) as revenue

    from order_lines
    inner join orders
        on order_lines.sales_order_id = orders.sales_order_id
    where {{ medallion.counted_order('orders.status') }}
    group by
        order_lines.sales_order_id,
        order_lines.product_id

),

differing_pairs as (

    select count(*) as pair_count
    from ledger_per_order
    full outer join silver_per_order
        on
            ledger_per_order.sales_order_id = silver_per_order.sales_order_id
            and ledger_per_order.product_id = silver_per_order.product_id
    where
        coalesce(ledger_per_order.order_count, 0) <> coalesce(silver_per_order.order_count, 0)
        or coalesce(ledger_per_order.units_sold, 0) <> coalesce(silver_per_order.units_sold, 0)
        or coalesce(ledger_per_order.revenue, 0) <> coalesce(silver_per_order.revenue, 0)

),

compared as (

    {%- for measure in product_measures %}

    select
        '{{ measure }}' as measure,
        cast(coalesce(gold_totals.{{ measure }}, 0) as decimal(38, 6)) as gold_total,
        cast(coalesce(ledger_totals.{{ measure }}, 0) as decimal(38, 6)) as silver_total
    from gold_totals
    cross join ledger_totals

    union all
    {%- endfor %}

    select
        'order_product_pairs_differing_from_silver' as measure,
        cast(differing_pairs.pair_count as decimal(38, 6)) as gold_total,
        cast(0 as decimal(38, 6)) as silver_total
    from differing_pairs

)

select *
from compared
where gold_total <> silver_total
