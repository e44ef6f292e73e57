{#- One row per (order_date, territory_id) over orders that are neither rejected (4)
    nor cancelled (6). Lines are summed per order before the daily roll-up, so header
    amounts are never fanned out by the join. A view over the incremental
    fct_sales_daily_state without its emptied groups; publish_layer copies the groups
    that changed into gold.fct_sales_daily. -#}
with

daily_state as (

    select * from {{ ref('fct_sales_daily_state') }}

),

final as (

    select
        order_date,
        territory_id,
        territory_name,
        country_region_code,
        order_count,
        customer_count,
        units,
        subtotal,
        tax_amt,
        freight,
        total_due

    from daily_state
    where order_count > 0

)

select * from final
