{#- Internal: what each order contributes to fct_product_sales, kept as a ledger of signed
    changes. A row is one change of one (order, product): +1 order and the units and
    revenue of the order's counted lines of that product when it first counts, the
    difference when it is corrected, the negation when it stops counting (cancelled,
    rejected, quarantined, deleted at the source, its line moved to another product).
    Summed per (order, product) the ledger is what the order contributes now; summed per
    product it is the product's totals.

    Append only. A run looks at every order silver (re)published since its last batch
    (minus the lookback window: changed_orders, as order_sales_ledger) and
    appends, per (order, product), what the order contributes now less what the ledger
    holds for it, where that is not zero: reading an order again changes nothing.
    fct_product_sales_state adds the rows appended since its own last batch to its totals,
    so an hour costs what the hour changed, not every line of every product it touched.
    A full refresh writes one row per counted (order, product); refresh it together with
    fct_product_sales_state (the DAG refreshes a layer whole). -#}

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

lines_in_scope as (

    select order_lines.*
    from order_lines
    where order_lines.sales_order_id in (select changed_orders.sales_order_id from changed_orders)

),

{%- else %}

lines_in_scope as (

    select * from order_lines

),

{%- endif %}

contributions_now as (

    select
        lines_in_scope.sales_order_id,
        lines_in_scope.product_id,
        1 as order_count,
        sum(lines_in_scope.order_qty) as units_sold,
        sum(lines_in_scope.line_total) as revenue

    from lines_in_scope
    inner join orders
        on lines_in_scope.sales_order_id = orders.sales_order_id
    where {{ medallion.counted_order('orders.status') }}
    group by
        lines_in_scope.sales_order_id,
        lines_in_scope.product_id

),

{% if is_incremental() -%}

contributions_held as (

    select
        previous_state.sales_order_id,
        previous_state.product_id,
        sum(previous_state.order_count) as order_count,
        sum(previous_state.units_sold) as units_sold,
        sum(previous_state.revenue) as revenue

    from previous_state
    where previous_state.sales_order_id in (select changed_orders.sales_order_id from changed_orders)
    group by
        previous_state.sales_order_id,
        previous_state.product_id

),

changes as (

    select
        coalesce(contributions_now.sales_order_id, contributions_held.sales_order_id) as sales_order_id,
        coalesce(contributions_now.product_id, contributions_held.product_id) as product_id,
        coalesce(contributions_now.order_count, 0) - coalesce(contributions_held.order_count, 0) as order_count,
        coalesce(contributions_now.units_sold, 0) - coalesce(contributions_held.units_sold, 0) as units_sold,
        coalesce(contributions_now.revenue, 0) - coalesce(contributions_held.revenue, 0) as revenue

    from contributions_now
    full outer join contributions_held
        on
            contributions_now.sales_order_id = contributions_held.sales_order_id
            and contributions_now.product_id = contributions_held.product_id

),

{%- else %}

changes as (

    select * from contributions_now

),

{%- endif %}

final as (

    select
        sales_order_id,
        product_id,
        cast(order_count as {{ dbt.type_bigint() }}) as order_count,
        cast(units_sold as {{ dbt.type_bigint() }}) as units_sold,
        cast(revenue as decimal(38, 6)) as revenue,
        {{ medallion.batch_at() }} as _batch_at

    from changes
    where order_count <> 0 or units_sold <> 0 or revenue <> 0

)

select * from final
