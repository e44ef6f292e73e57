{#- One row per customer with at least one order that is neither rejected (4) nor
    cancelled (6): who they are and what they are worth. A view over the incremental
    dim_customer_value_state without its emptied customers; publish_layer copies the
    customers that changed into gold.dim_customer_value. -#}
with

customer_state as (

    select * from {{ ref('dim_customer_value_state') }}

),

final as (

    select
        customer_id,
        customer_type,
        customer_name,
        territory_id,
        first_order_date,
        last_order_date,
        order_count,
        lifetime_value

    from customer_state
    where order_count > 0

)

select * from final
