{#- One row per customer with at least one order that is neither rejected (4) nor
    cancelled (6): who they are and what they are worth. -#}
with

orders as (

    select * from {{ ref('slv_orders') }}

),

customers as (

    select * from {{ ref('slv_customers') }}

),

counted_orders as (

    select *
    from orders
    where status not in (4, 6)

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

final as (

    select
        orders_per_customer.customer_id,
        customers.customer_type,
        customers.customer_name,
        customers.territory_id,
        orders_per_customer.first_order_date,
        orders_per_customer.last_order_date,
        cast(orders_per_customer.order_count as {{ dbt.type_bigint() }}) as order_count,
        cast(orders_per_customer.lifetime_value as decimal(19, 4)) as lifetime_value

    from orders_per_customer
    left join customers
        on orders_per_customer.customer_id = customers.customer_id

)

select * from final
