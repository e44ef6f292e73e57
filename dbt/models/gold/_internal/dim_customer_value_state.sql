{#- The incremental state behind dim_customer_value: one row per customer who ever had a
    counted order, _batch_at when it was last rewritten. order_count and lifetime_value are
    additive: a run adds to each customer the rows order_sales_ledger appended since this
    model's last batch (an order moved to another customer is taken from the old one and
    given to the new). first_order_date and last_order_date stay exact: they are read again
    for the touched customers from the ledger's net order count per (customer, day), one row
    per order. Customers whose type, name or territory changed are rewritten too.
    A customer with no counted order left stays as a row with order_count = 0:
    dim_customer_value hides it, publish_layer deletes it.

    The rows added are exactly those after this model's last batch; a ledger rebuilt after
    it holds whole totals, and every customer is then recomputed from it (macros/gold_changes.sql,
    ledger_state_ctes). -#}

with

ledger as (

    select * from {{ ref('order_sales_ledger') }}

),

customers as (

    select * from {{ ref('slv_customers') }}

),

{% if is_incremental() -%}

{{ medallion.ledger_state_ctes() }}

ledger_changes as (

    select
        ledger.customer_id,
        sum(ledger.order_count) as order_count,
        sum(ledger.total_due) as lifetime_value

    from ledger
    where ledger._batch_at > (select last_batch.batch_at from last_batch)
    group by ledger.customer_id

),

changed_customers as (

    select customer_id
    from ledger_changes

    union

    select previous_state.customer_id
    from previous_state
    inner join customers
        on previous_state.customer_id = customers.customer_id
    where
        previous_state.customer_type <> customers.customer_type
        or previous_state.customer_name <> customers.customer_name
        or previous_state.territory_id <> customers.territory_id

    union

    select previous_state.customer_id
    from previous_state
    cross join ledger_rebuilt
    where ledger_rebuilt.is_rebuilt = 1

),

sums_per_customer as (

    select
        changed_customers.customer_id,
        coalesce(previous_state.order_count, 0) + coalesce(ledger_changes.order_count, 0) as order_count,
        coalesce(previous_state.lifetime_value, 0)
        + coalesce(ledger_changes.lifetime_value, 0) as lifetime_value

    from changed_customers
    cross join ledger_rebuilt
    left join previous_state
        on
            changed_customers.customer_id = previous_state.customer_id
            and ledger_rebuilt.is_rebuilt = 0
    left join ledger_changes
        on changed_customers.customer_id = ledger_changes.customer_id

),

ledger_in_scope as (

    select ledger.*
    from ledger
    where ledger.customer_id in (select changed_customers.customer_id from changed_customers)

),

{%- else %}

sums_per_customer as (

    select
        customer_id,
        sum(order_count) as order_count,
        sum(total_due) as lifetime_value

    from ledger
    group by customer_id

),

ledger_in_scope as (

    select * from ledger

),

{%- endif %}

counted_order_days as (

    select
        customer_id,
        order_date

    from ledger_in_scope
    group by
        customer_id,
        order_date
    having sum(order_count) > 0

),

order_dates as (

    select
        customer_id,
        min(order_date) as first_order_date,
        max(order_date) as last_order_date

    from counted_order_days
    group by customer_id

),

final as (

    select
        sums_per_customer.customer_id,
        customers.customer_type,
        customers.customer_name,
        customers.territory_id,
        order_dates.first_order_date,
        order_dates.last_order_date,
        cast(sums_per_customer.order_count as {{ dbt.type_bigint() }}) as order_count,
        cast(sums_per_customer.lifetime_value as decimal(19, 4)) as lifetime_value,
        {{ medallion.batch_at() }} as _batch_at

    from sums_per_customer
    left join order_dates
        on sums_per_customer.customer_id = order_dates.customer_id
    left join customers
        on sums_per_customer.customer_id = customers.customer_id

)

select * from final
