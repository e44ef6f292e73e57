{#- The incremental state behind fct_sales_daily: one row per (order_date, territory_id)
    ever computed, _batch_at when it was last recomputed. A run recomputes only the
    groups touched since its last batch (minus the lookback window): every day and
    territory an order silver (re)published since is or was in (order_keys_state: in
    silver.orders or, when it left them, silver.orders_quarantine), and every group of a
    territory whose name changed.
    A recomputed group with no counted order left (its only order was cancelled, say)
    stays as a row with order_count = 0: fct_sales_daily hides it, and publish_layer
    deletes it from gold.fct_sales_daily. -#}

-- depends_on: {{ ref('slv_orders_quarantine') }}
-- depends_on: {{ ref('order_keys_state') }}

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

{% if is_incremental() -%}

{{ medallion.changed_order_keys_ctes() }}

changed_groups as (

    select
        order_date,
        territory_id
    from changed_order_keys
    where order_date is not null and territory_id is not null

    union

    select
        previous_state.order_date,
        previous_state.territory_id
    from previous_state
    inner join territories
        on previous_state.territory_id = territories.territory_id
    where
        previous_state.territory_name <> territories.territory_name
        or previous_state.country_region_code <> territories.country_region_code

),

orders_in_scope as (

    select orders.*
    from orders
    inner join changed_groups
        on
            orders.order_date = changed_groups.order_date
            and orders.territory_id = changed_groups.territory_id

),

{%- else %}

orders_in_scope as (

    select * from orders

),

{%- endif %}

counted_orders as (

    select *
    from orders_in_scope
    where {{ medallion.counted_order() }}

),

units_per_order as (

    select
        order_lines.sales_order_id,
        sum(order_lines.order_qty) as units

    from order_lines
    inner join counted_orders
        on order_lines.sales_order_id = counted_orders.sales_order_id
    group by order_lines.sales_order_id

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

recomputed_groups as (

    {% if is_incremental() -%}
    select
        order_date,
        territory_id
    from changed_groups
    {%- else -%}
    select
        order_date,
        territory_id
    from daily
    {%- endif %}

),

final as (

    select
        recomputed_groups.order_date,
        recomputed_groups.territory_id,
        territories.territory_name,
        territories.country_region_code,
        cast(coalesce(daily.order_count, 0) as {{ dbt.type_bigint() }}) as order_count,
        cast(coalesce(daily.customer_count, 0) as {{ dbt.type_bigint() }}) as customer_count,
        cast(coalesce(daily.units, 0) as {{ dbt.type_bigint() }}) as units,
        cast(coalesce(daily.subtotal, 0) as decimal(19, 4)) as subtotal,
        cast(coalesce(daily.tax_amt, 0) as decimal(19, 4)) as tax_amt,
        cast(coalesce(daily.freight, 0) as decimal(19, 4)) as freight,
        cast(coalesce(daily.total_due, 0) as decimal(19, 4)) as total_due,
        {{ medallion.batch_at() }} as _batch_at

    from recomputed_groups
    left join daily
        on
            recomputed_groups.order_date = daily.order_date
            and recomputed_groups.territory_id = daily.territory_id
    left join territories
        on recomputed_groups.territory_id = territories.territory_id

)

select * from final
