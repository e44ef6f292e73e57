{{ config(tags=['silver']) }}

{#- A published order's subtotal equals the sum of its published lines' totals
    (within 0.01). Orders are quarantined whole, so this holds whenever the source
    header agrees with its lines; a mismatch means a header or lines went missing.
    Batch scope (macros/gate_scope.sql): the orders the batch changed, with all their lines. -#}
with

orders as (

    select * from {{ ref('slv_orders') }} as orders
    where {{ medallion.in_batch(ref('slv_orders'), 'orders') }}

),

order_lines as (

    select * from {{ ref('slv_order_lines') }} as lines
    where {{ medallion.in_batch_keys(ref('slv_orders'), ['sales_order_id'], 'lines') }}

),

line_totals as (

    select
        sales_order_id,
        sum(line_total) as lines_total

    from order_lines
    group by sales_order_id

),

final as (

    select
        orders.sales_order_id,
        orders.subtotal,
        coalesce(line_totals.lines_total, 0) as lines_total

    from orders
    left join line_totals
        on orders.sales_order_id = line_totals.sales_order_id
    where abs(orders.subtotal - coalesce(line_totals.lines_total, 0)) > 0.01

)

select * from final
