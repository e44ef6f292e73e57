{{ config(tags=['gold']) }}
{#- Each total of gold.fct_sales_daily equals, to the cent, the same total computed from
    silver orders and lines (statuses 4 and 6 excluded), proven through the ledger its sums
    are added from (order_sales_ledger):
    1. the groups' sums equal their ledger rows summed, and their customer counts the
       customers with a counted order left in the group;
    2. each order's ledger rows equal what it contributes in silver now, under its current
       day, territory and customer (macros/reconcile.sql).
    One row per measure that differs (for 2: the orders that differ).
    Batch scope (macros/gate_scope.sql): the (order_date, territory_id) groups the batch
    touched (1) and the orders it appended ledger rows for (2). The full check reads
    everything. -#}
{%- set measures = [
    'order_count', 'customer_count', 'units', 'subtotal', 'tax_amt', 'freight', 'total_due'
] %}

with

fct_sales_daily as (

    select * from {{ ref('fct_sales_daily') }} as gold
    where {{ medallion.in_batch_keys(ref('fct_sales_daily_state'), ['order_date', 'territory_id'], 'gold') }}

),

group_ledger as (

    select * from {{ ref('order_sales_ledger') }} as ledger
    where {{ medallion.in_batch_keys(ref('fct_sales_daily_state'), ['order_date', 'territory_id'], 'ledger') }}

),

{{ medallion.order_ledger_vs_silver_ctes() }}

counted_customer_days as (

    select
        order_date,
        territory_id,
        customer_id

    from group_ledger
    group by
        order_date,
        territory_id,
        customer_id
    having sum(order_count) > 0

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

ledger_sums as (

    select
        sum(order_count) as order_count,
        sum(units) as units,
        sum(subtotal) as subtotal,
        sum(tax_amt) as tax_amt,
        sum(freight) as freight,
        sum(total_due) as total_due

    from group_ledger

),

ledger_customers as (

    select count(*) as customer_count
    from counted_customer_days

),

ledger_totals as (

    select
        ledger_sums.order_count,
        ledger_customers.customer_count,
        ledger_sums.units,
        ledger_sums.subtotal,
        ledger_sums.tax_amt,
        ledger_sums.freight,
        ledger_sums.total_due

    from ledger_sums
    cross join ledger_customers

),

compared as (

    {%- for measure in measures %}

    select
        '{{ measure }}' as measure,
        cast(coalesce(gold_totals.{{ measure }}, 0) as decimal(38, 6)) as gold_total,
        cast(coalesce(ledger_totals.{{ measure }}, 0) as decimal(38, 6)) as silver_total
    from gold_totals
    cross join ledger_totals

    union all
    {%- endfor %}

    select
        'orders_differing_from_silver' as measure,
        cast(differing_orders.order_count as decimal(38, 6)) as gold_total,
        cast(0 as decimal(38, 6)) as silver_total
    from differing_orders

)

select *
from compared
where gold_total <> silver_total
