{#- Published orders: the orders of slv_order_checks that break no rule. A view over
    that incremental state; publish_layer copies the orders that changed into
    silver.orders. -#}
with

order_checks as (

    select * from {{ ref('slv_order_checks') }}

),

conformed as (

    select
        *,
        cast(ordered_at as date) as order_date,
        cast(due_at as date) as due_date,
        cast(shipped_at as date) as ship_date

    from order_checks
    where quarantine_reasons = ''

),

final as (

    select
        sales_order_id,
        sales_order_number,
        order_date,
        due_date,
        ship_date,
        status,
        is_online_order,
        customer_id,
        sales_person_id,
        territory_id,
        bill_to_address_id,
        ship_to_address_id,
        currency_rate_id,
        purchase_order_number,
        account_number,
        subtotal,
        tax_amt,
        freight,
        total_due,
        modified_at,
        _loaded_at,
        _batch_at

    from conformed

)

select * from final
