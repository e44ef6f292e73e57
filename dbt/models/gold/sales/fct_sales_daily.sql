{#- One row per (order_date, territory_id) over orders that are neither rejected (4)
    nor cancelled (6). Lines are summed per order before the daily roll-up, so header
    amounts are never fanned out by the join. -#}
with

orders as (

    select * from {{ ref('slv_orders') }}

),

order_lines as (

    select * from {{ ref('slv_order_lines') }}

),

territories as (

    select * from {{ ref('slv_territories') }}

),

counted_orders as (

    select *
    from orders
    where status not in (4, 6)

),

units_per_order as (

    select
        sales_order_id,
        sum(order_qty) as units

    from order_lines
    group by sales_order_id

),

daily as (

    select
        counted_orders.order_date,
        counted_orders.territory_id,
        count(*) as order_count,
        count(distinct counted_orders.customer_id) as customer_count,
        sum(coalesce(units_per_order.units, 0)) as units,
        sum(counted_orders.subtotal) as subtotal,
        sum(counted_orders.tax_amt) as tax_amt,
        sum(counted_orders.freight) as freight,
        sum(counted_orders.total_due) as total_due

    from counted_orders
    left join units_per_order
        on counted_orders.sales_order_id = units_per_order.sales_order_id
    group by
        counted_orders.order_date,
        counted_orders.territory_id

),

final as (

    select
        daily.order_date,
        daily.territory_id,
        territories.territory_name,
        territories.country_region_code,
        cast(daily.order_count as {{ dbt.type_bigint() }}) as order_count,
        cast(daily.customer_count as {{ dbt.type_bigint() }}) as customer_count,
        cast(daily.units as {{ dbt.type_bigint() }}) as units,
        cast(daily.subtotal as decimal(19, 4)) as subtotal,
        cast(daily.tax_amt as decimal(19, 4)) as tax_amt,
        cast(daily.freight as decimal(19, 4)) as freight,
        cast(daily.total_due as decimal(19, 4)) as total_due

    from daily
    left join territories
        on daily.territory_id = territories.territory_id

)

select * from final
