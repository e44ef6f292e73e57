{#- The incremental state behind dim_customer_value: one row per customer who ever had
    a counted order, _batch_at when it was last recomputed. A run recomputes only the
    customers touched since its last batch (minus the lookback window): every customer an
    order silver (re)published since belongs or belonged to (order_keys_state), and every
    customer whose type, name or territory changed.
    A customer with no counted order left stays as a row with order_count = 0:
    dim_customer_value hides it, publish_layer deletes it. -#}

-- depends_on: {{ ref('slv_orders_quarantine') }}
-- depends_on: {{ ref('order_keys_state') }}

with

orders as (

    select * from {{ ref('slv_orders') }}

),

customers as (

    select * from {{ ref('slv_customers') }}

),

{% if is_incremental() -%}

{{ medallion.changed_order_keys_ctes() }}

changed_customers as (

    select customer_id
    from changed_order_keys
    where customer_id is not null

    union

    select previous_state.customer_id
    from previous_state
    inner join customers
        on previous_state.customer_id = customers.customer_id
    where
        previous_state.customer_type <> customers.customer_type
        or previous_state.customer_name <> customers.customer_name
        or previous_state.territory_id <> customers.territory_id

),

orders_in_scope as (

    select orders.*
    from orders
    where orders.customer_id in (select changed_customers.customer_id from changed_customers)

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

orders_per_customer as (

    select
        customer_id,
        min(order_date) as first_order_date,
        max(order_date) as last_order_date,
        count(*) as order_count,
        sum(total_due) as lifetime_value

    from counted_orders
    group by customer_id

),

recomputed_customers as (

    {% if is_incremental() -%}
    select customer_id
    from changed_customers
    {%- else -%}
    select customer_id
    from orders_per_customer
    {%- endif %}

),

final as (

    select
        recomputed_customers.customer_id,
        customers.customer_type,
        customers.customer_name,
        customers.territory_id,
        orders_per_customer.first_order_date,
        orders_per_customer.last_order_date,
        cast(coalesce(orders_per_customer.order_count, 0) as {{ dbt.type_bigint() }}) as order_count,
        cast(coalesce(orders_per_customer.lifetime_value, 0) as decimal(19, 4)) as lifetime_value,
        {{ medallion.batch_at() }} as _batch_at

    from recomputed_customers
    left join orders_per_customer
        on recomputed_customers.customer_id = orders_per_customer.customer_id
    left join customers
        on recomputed_customers.customer_id = customers.customer_id

)

select * from final
