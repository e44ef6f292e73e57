{#- Every order line that is not published: its own rules broken, plus
    'order_quarantined' when its order's header broke a rule, or
    'order_has_quarantined_lines' for a valid line whose sibling was quarantined. -#}
with

order_line_checks as (

    select * from {{ ref('slv_order_line_checks') }}

),

order_checks as (

    select * from {{ ref('slv_order_checks') }}

),

joined as (

    select
        order_line_checks.*,
        order_checks.header_reasons,
        coalesce(order_checks.quarantine_reasons, 'orphan_order') as order_reasons

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
        {{ medallion.utc_now() }} as quarantined_at

    from quarantined

)

select * from final
