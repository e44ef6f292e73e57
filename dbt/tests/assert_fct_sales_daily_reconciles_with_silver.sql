{{ config(tags=['gold']) }}

{#- Each total of gold.fct_sales_daily equals, to the cent, the same total computed
    straight from silver orders and lines (statuses 4 and 6 excluded). Returns one
    row per measure that differs.
    Batch scope (macros/gate_scope.sql): the (order_date, territory_id) groups the batch touched, on both sides. -#}
with

fct_sales_daily as (

    select * from {{ ref('fct_sales_daily') }} as gold
    where {{ medallion.in_batch_keys(ref('fct_sales_daily_state'), ['order_date', 'territory_id'], 'gold') }}

),

orders as (

    select * from {{ ref('slv_orders') }} as orders
    where {{ medallion.in_batch_keys(ref('fct_sales_daily_state'), ['order_date', 'territory_id'], 'orders') }}

),

order_lines as (

    select * from {{ ref('slv_order_lines') }}

),

counted_orders as (

    select *
    from orders
    where {{ medallion.counted_order() }}

),

gold_totals as (

    select
        sum(order_count) as order_count,
        sum(customer_count) as customer_count,
        sum(units) as units,
        sum(subtotal) as subtotal,
        sum(tax_amt) as tax_amt,
        sum(freight) as freight,
        sum(total_due) as total_due

    from fct_sales_daily

),

silver_order_totals as (

    select
        count(*) as order_count,
        sum(subtotal) as subtotal,
        sum(tax_amt) as tax_amt,
        sum(freight) as freight,
        sum(total_due) as total_due

    from counted_orders

),

silver_customer_days as (

    select distinct
        order_date,
        territory_id,
        customer_id

    from counted_orders

),

silver_customer_total as (

    select count(*) as customer_count
    from silver_customer_days

),

silver_unit_total as (

    select sum(order_lines.order_qty) as units
    from order_lines
    inner join counted_orders
        on order_lines.sales_order_id = counted_orders.sales_order_id

),

compared as (

    select
        'order_count' as measure,
        cast(coalesce(gold_totals.order_count, 0) as decimal(38, 6)) as gold_total,
        cast(coalesce(silver_order_totals.order_count, 0) as decimal(38, 6)) as silver_total
    from gold_totals
    cross join silver_order_totals

    union all

    select
        'customer_count' as measure,
        cast(coalesce(gold_totals.customer_count, 0) as decimal(38, 6)) as gold_total,
        cast(coalesce(silver_customer_total.customer_count, 0) as decimal(38, 6)) as silver_total
    from gold_totals
    cross join silver_customer_total

    union all

    select
        'units' as measure,
        cast(coalesce(gold_totals.units, 0) as decimal(38, 6)) as gold_total,
        cast(coalesce(silver_unit_total.units, 0) as decimal(38, 6)) as silver_total
    from gold_totals
    cross join silver_unit_total

    union all

    select
        'subtotal' as measure,
        cast(coalesce(gold_totals.subtotal, 0) as decimal(38, 6)) as gold_total,
        cast(coalesce(silver_order_totals.subtotal, 0) as decimal(38, 6)) as silver_total
    from gold_totals
    cross join silver_order_totals

    union all

    select
        'tax_amt' as measure,
        cast(coalesce(gold_totals.tax_amt, 0) as decimal(38, 6)) as gold_total,
        cast(coalesce(silver_order_totals.tax_amt, 0) as decimal(38, 6)) as silver_total
    from gold_totals
    cross join silver_order_totals

    union all

    select
        'freight' as measure,
        cast(coalesce(gold_totals.freight, 0) as decimal(38, 6)) as gold_total,
        cast(coalesce(silver_order_totals.freight, 0) as decimal(38, 6)) as silver_total
    from gold_totals
    cross join silver_order_totals

    union all

    select
        'total_due' as measure,
        cast(coalesce(gold_totals.total_due, 0) as decimal(38, 6)) as gold_total,
        cast(coalesce(silver_order_totals.total_due, 0) as decimal(38, 6)) as silver_total
    from gold_totals
    cross join silver_order_totals

)

select *
from compared
where gold_total <> silver_total
