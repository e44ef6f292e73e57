{#- Internal: what each order contributes to fct_sales_daily and dim_customer_value, kept
    as a ledger of signed changes. A row is one change of one order under one (order_date,
    territory_id, customer_id): +1 order with its units and amounts when it first counts,
    the difference when it is corrected, the negation when it stops counting (cancelled,
    rejected, quarantined, deleted at the source) or moves to another day, territory or
    customer (the old combination gets the negation, the new one the contribution).
    Summed per order it is what the order contributes now; summed per (day, territory) or
    per customer it is that group's totals.

    Append only, as product_sales_ledger (see there): a run appends, for every order silver
    (re)published since its last batch (minus the lookback), what the order contributes now
    less what the ledger holds for it, where that is not zero. -#}

-- depends_on: {{ ref('slv_orders_quarantine') }}

with

orders as (

    select * from {{ ref('slv_orders') }}

),

order_lines as (

    select * from {{ ref('slv_order_lines') }}

),

{% if is_incremental() -%}

{{ medallion.changed_orders_ctes() }}

orders_in_scope as (

    select orders.*
    from orders
    where orders.sales_order_id in (select changed_orders.sales_order_id from changed_orders)

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
    where order_lines.sales_order_id in (select counted_orders.sales_order_id from counted_orders)
    group by order_lines.sales_order_id

),

contributions_now as (

    select
        counted_orders.sales_order_id,
        counted_orders.order_date,
        counted_orders.territory_id,
        counted_orders.customer_id,
        1 as order_count,
        coalesce(units_per_order.units, 0) as units,
        counted_orders.subtotal,
        counted_orders.tax_amt,
        counted_orders.freight,
        counted_orders.total_due

    from counted_orders
    left join units_per_order
        on counted_orders.sales_order_id = units_per_order.sales_order_id

),

{% if is_incremental() -%}

contributions_held as (

    select
        previous_state.sales_order_id,
        previous_state.order_date,
        previous_state.territory_id,
        previous_state.customer_id,
        sum(previous_state.order_count) as order_count,
        sum(previous_state.units) as units,
        sum(previous_state.subtotal) as subtotal,
        sum(previous_state.tax_amt) as tax_amt,
        sum(previous_state.freight) as freight,
        sum(previous_state.total_due) as total_due

    from previous_state
    where previous_state.sales_order_id in (select changed_orders.sales_order_id from changed_orders)
    group by
        previous_state.sales_order_id,
        previous_state.order_date,
        previous_state.territory_id,
        previous_state.customer_id

),

changes as (

    select
        coalesce(contributions_now.sales_order_id, contributions_held.sales_order_id) as sales_order_id,
        coalesce(contributions_now.order_date, contributions_held.order_date) as order_date,
        coalesce(contributions_now.territory_id, contributions_held.territory_id) as territory_id,
        coalesce(contributions_now.customer_id, contributions_held.customer_id) as customer_id,
        coalesce(contributions_now.order_count, 0) - coalesce(contributions_held.order_count, 0) as order_count,
        coalesce(contributions_now.units, 0) - coalesce(contributions_held.units, 0) as units,
        coalesce(contributions_now.subtotal, 0) - coalesce(contributions_held.subtotal, 0) as subtotal,
        coalesce(contributions_now.tax_amt, 0) - coalesce(contributions_held.tax_amt, 0) as tax_amt,
        coalesce(contributions_now.freight, 0) - coalesce(contributions_held.freight, 0) as freight,
        coalesce(contributions_now.total_due, 0) - coalesce(contributions_held.total_due, 0) as total_due

    from contributions_now
    full outer join contributions_held
        on
            contributions_now.sales_order_id = contributions_held.sales_order_id
            and contributions_now.order_date = contributions_held.order_date
            and contributions_now.territory_id = contributions_held.territory_id
            and contributions_now.customer_id = contributions_held.customer_id

),

{%- else %}

changes as (

    select * from contributions_now

),

{%- endif %}

final as (

    select
        sales_order_id,
        order_date,
        territory_id,
        customer_id,
        cast(order_count as {{ dbt.type_bigint() }}) as order_count,
        cast(units as {{ dbt.type_bigint() }}) as units,
        cast(subtotal as decimal(19, 4)) as subtotal,
        cast(tax_amt as decimal(19, 4)) as tax_amt,
        cast(freight as decimal(19, 4)) as freight,
        cast(total_due as decimal(19, 4)) as total_due,
        {{ medallion.batch_at() }} as _batch_at

    from changes
    where
        order_count <> 0
        or units <> 0
        or subtotal <> 0
        or tax_amt <> 0
        or freight <> 0
        or total_due <> 0

)

select * from final
