{{ config(tags=['gold']) }}
{#- Each total of gold.fct_sales_daily equals, to the cent, the same total computed from
    silver orders and lines (statuses 4 and 6 excluded), proven through the ledger its sums
    are added from (order_sales_ledger):
    1. the groups' sums equal their ledger rows summed, and their customer counts the
       customers with a counted order left in the group;
    2. each order's ledger rows equal what it contributes in silver now, under its current
       day, territory and customer, computed again from silver here (not with the ledger's
       own SQL: a test that reused it would share its bugs). This proves the ledger that
       dim_customer_value adds up from too: its test reconciles gold with the ledger only.
    One row per measure that differs (for 2: the orders that differ).
    Batch scope (macros/gate_scope.sql): the (order_date, territory_id) groups the batch
    touched (1) and the orders it appended ledger rows for (2); every other order was
    proven by the batch that last changed it. The full check reads everything. -#}
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

order_ledger as (

    select * from {{ ref('order_sales_ledger') }} as ledger
    where {{ medallion.in_batch_keys(ref('order_sales_ledger'), ['sales_order_id'], 'ledger') }}

),

ledger_orders as (

    select * from {{ ref('slv_orders') }} as orders
    where {{ medallion.in_batch_keys(ref('order_sales_ledger'), ['sales_order_id'], 'orders') }}

),

ledger_order_lines as (

    select * from {{ ref('slv_order_lines') }} as lines
    where {{ medallion.in_batch_keys(ref('order_sales_ledger'), ['sales_order_id'], 'lines') }}

),

ledger_per_order as (

    select
        sales_order_id,
        order_date,
        territory_id,
        customer_id,
        sum(order_count) as order_count,
        sum(units) as units,
        sum(subtotal) as subtotal,
        sum(tax_amt) as tax_amt,
        sum(freight) as freight,
        sum(total_due) as total_due

    from order_ledger
    group by
        sales_order_id,
        order_date,
        territory_id,
        customer_id

),

silver_units_per_order as (

    select
        sales_order_id,
        sum(order_qty) as units

    from ledger_order_lines
    group by sales_order_id

),

silver_per_order as (

    select
        ledger_orders.sales_order_id,
        ledger_orders.order_date,
        ledger_orders.territory_id,
        ledger_orders.customer_id,
        1 as order_count,
        coalesce(silver_units_per_order.units, 0) as units,
        ledger_orders.subtotal,
        ledger_orders.tax_amt,
        ledger_orders.freight,
        ledger_orders.total_due

    from ledger_orders
    left join silver_units_per_order
        on ledger_orders.sales_order_id = silver_units_per_order.sales_order_id
    where {{ medallion.counted_order('ledger_orders.status') }}

),

differing_orders as (

    select count(*) as order_count
    from ledger_per_order
    full outer join silver_per_order
        on
            ledger_per_order.sales_order_id = silver_per_order.sales_order_id
            and ledger_per_order.order_date = silver_per_order.order_date
            and ledger_per_order.territory_id = silver_per_order.territory_id
            and ledger_per_order.customer_id = silver_per_order.customer_id
    where
        coalesce(ledger_per_order.order_count, 0) <> coalesce(silver_per_order.order_count, 0)
        or coalesce(ledger_per_order.units, 0) <> coalesce(silver_per_order.units, 0)
        or coalesce(ledger_per_order.subtotal, 0) <> coalesce(silver_per_order.subtotal, 0)
        or coalesce(ledger_per_order.tax_amt, 0) <> coalesce(silver_per_order.tax_amt, 0)
        or coalesce(ledger_per_order.freight, 0) <> coalesce(silver_per_order.freight, 0)
        or coalesce(ledger_per_order.total_due, 0) <> coalesce(silver_per_order.total_due, 0)

),

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
