{#- Valid order lines of valid orders: a line is published only when it breaks no
    rule and its order is published too (orders are quarantined whole). _batch_at is the
    later of the line's and its order's last check: either can change the row. -#}
with

order_line_checks as (

    select * from {{ ref('slv_order_line_checks') }}

),

order_checks as (

    select * from {{ ref('slv_order_checks') }}

),

final as (

    select
        order_line_checks.sales_order_detail_id,
        order_line_checks.sales_order_id,
        order_line_checks.product_id,
        order_line_checks.special_offer_id,
        order_line_checks.carrier_tracking_number,
        order_line_checks.order_qty,
        order_line_checks.unit_price,
        order_line_checks.unit_price_discount,
        order_line_checks.line_total,
        order_line_checks.modified_at,
        order_line_checks._loaded_at,
        case
            when order_checks._batch_at > order_line_checks._batch_at then order_checks._batch_at
            else order_line_checks._batch_at
        end as _batch_at

    from order_line_checks
    inner join order_checks
        on order_line_checks.sales_order_id = order_checks.sales_order_id
    where
        order_line_checks.line_reasons = ''
        and order_checks.quarantine_reasons = ''

)

select * from final
