{{ config(tags=['gold']) }}
{#- Each total of gold.dim_customer_value equals, to the cent, the same total computed from
    silver orders (statuses 4 and 6 excluded), proven through the ledger it is added from
    (order_sales_ledger): the customers' order counts and lifetime values equal their
    ledger rows summed, and each customer's first and last order dates those of its orders
    still counted. The ledger itself is proven against silver, order by order, by
    assert_fct_sales_daily_reconciles_with_silver, in the same gold gate.
    One row per measure that differs (for the dates: the customers that differ).
    Batch scope (macros/gate_scope.sql): the customers the batch touched. The full check
    reads everything. -#}
{%- set measures = ['customer_count', 'order_count', 'lifetime_value'] %}

with

dim_customer_value as (

    select * from {{ ref('dim_customer_value') }} as gold
    where {{ medallion.in_batch_keys(ref('dim_customer_value_state'), ['customer_id'], 'gold') }}

),

customer_ledger as (

    select * from {{ ref('order_sales_ledger') }} as ledger
    where {{ medallion.in_batch_keys(ref('dim_customer_value_state'), ['customer_id'], 'ledger') }}

),

counted_order_days as (

    select
        customer_id,
        order_date

    from customer_ledger
    group by
        customer_id,
        order_date
    having sum(order_count) > 0

),

ledger_per_customer as (

    select
        customer_id,
        sum(order_count) as order_count,
        sum(total_due) as lifetime_value

    from customer_ledger
    group by customer_id
    having sum(order_count) <> 0

),

ledger_order_dates as (

    select
        customer_id,
        min(order_date) as first_order_date,
        max(order_date) as last_order_date

    from counted_order_days
    group by customer_id

),

gold_totals as (

    select
        count(*) as customer_count,
        sum(order_count) as order_count,
        sum(lifetime_value) as lifetime_value

    from dim_customer_value

),

ledger_totals as (

    select
        count(*) as customer_count,
        sum(order_count) as order_count,
        sum(lifetime_value) as lifetime_value

    from ledger_per_customer

),

customers_with_other_dates as (

    select count(*) as customer_count
    from dim_customer_value
    full outer join ledger_order_dates
        on dim_customer_value.customer_id = ledger_order_dates.customer_id
    where
        dim_customer_value.customer_id is null
        or ledger_order_dates.customer_id is null
        or dim_customer_value.first_order_date <> ledger_order_dates.first_order_date
        or dim_customer_value.last_order_date <> ledger_order_dates.last_order_date

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
        'customers_with_other_order_dates' as measure,
        cast(customers_with_other_dates.customer_count as decimal(38, 6)) as gold_total,
        cast(0 as decimal(38, 6)) as silver_total
    from customers_with_other_dates


)

select *
from compared
where gold_total <> silver_total
