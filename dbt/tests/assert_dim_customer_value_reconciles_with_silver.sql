{{ config(tags=['gold']) }}

{#- Each total of gold.dim_customer_value equals, to the cent, the same total
    computed from silver orders (statuses 4 and 6 excluded). One row per measure
    that differs.
    Batch scope (macros/gate_scope.sql): the customers the batch touched, on both sides. -#}
with

dim_customer_value as (

    select * from {{ ref('dim_customer_value') }} as gold
    where {{ medallion.in_batch_keys(ref('dim_customer_value_state'), ['customer_id'], 'gold') }}

),

orders as (

    select * from {{ ref('slv_orders') }} as orders
    where {{ medallion.in_batch_keys(ref('dim_customer_value_state'), ['customer_id'], 'orders') }}

),

counted_orders as (

    select *
    from orders
    where {{ medallion.counted_order() }}

),

gold_totals as (

    select
        count(*) as customer_count,
        sum(order_count) as order_count,
        sum(lifetime_value) as lifetime_value

    from dim_customer_value

),

silver_totals as (

    select
        count(distinct customer_id) as customer_count,
        count(*) as order_count,
        sum(total_due) as lifetime_value

    from counted_orders

),

compared as (

    select
        'customer_count' as measure,
        cast(coalesce(gold_totals.customer_count, 0) as decimal(38, 6)) as gold_total,
        cast(coalesce(silver_totals.customer_count, 0) as decimal(38, 6)) as silver_total
    from gold_totals
    cross join silver_totals

    union all

    select
        'order_count' as measure,
        cast(coalesce(gold_totals.order_count, 0) as decimal(38, 6)) as gold_total,
        cast(coalesce(silver_totals.order_count, 0) as decimal(38, 6)) as silver_total
    from gold_totals
    cross join silver_totals

    union all

    select
        'lifetime_value' as measure,
        cast(coalesce(gold_totals.lifetime_value, 0) as decimal(38, 6)) as gold_total,
        cast(coalesce(silver_totals.lifetime_value, 0) as decimal(38, 6)) as silver_total
    from gold_totals
    cross join silver_totals

)

select *
from compared
where gold_total <> silver_total
