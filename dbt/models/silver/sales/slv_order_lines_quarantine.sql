{#- Every order line that is not published: its own rules broken, plus
    'order_quarantined' when its order's header broke a rule, or
    'order_has_quarantined_lines' for a valid line whose sibling was quarantined.
    quarantined_at and _batch_at: the later of the line's and its order's last check. -#}
with

order_line_checks as (

    select * from {{ ref('slv_order_line_checks') }}

),

order_checks as (

    select * from {{ ref('slv_order_checks') }}

),

joined as (

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
        order_line_checks.line_reasons,
        order_checks.header_reasons,
        coalesce(order_checks.quarantine_reasons, 'orphan_order') as order_reasons,
        case
            when order_checks._batch_at > order_line_checks._batch_at then order_checks._batch_at
            else order_line_checks._batch_at
        end as _batch_at

    from order_line_checks
    left join order_checks
        on order_line_checks.sales_order_id = order_checks.sales_order_id

),

quarantined as (

    select
        *,
        cast(concat_ws(
            ';',
            nullif(line_reasons, ''),
            case when header_reasons <> '' then 'order_quarantined' end,
            case
                when line_reasons = '' and header_reasons = ''
                    then 'order_has_quarantined_lines'
            end
        ) as {{ medallion.type_text() }}) as quarantine_reasons

    from joined
    where line_reasons <> '' or order_reasons <> ''

),

final as (

    select
        sales_order_detail_id,
        sales_order_id,
        product_id,
        special_offer_id,
        carrier_tracking_number,
        order_qty,
        unit_price,
        unit_price_discount,
        line_total,
        modified_at,
        _loaded_at,
        quarantine_reasons,
        _batch_at as quarantined_at,
        _batch_at

    from quarantined

)

select * from final
