{#- Gold's business rules and change tracking, written once. -#}


{#- The counted-order rule: rejected (4) and cancelled (6) orders count in no gold measure.
    Gold's models and the tests that reconcile gold with silver use it. -#}
{% macro counted_order(status='status') -%}
    {{ status }} not in (4, 6)
{%- endmacro %}


{#- The CTEs an incremental gold ledger starts from, ending with changed_orders: every order
    silver (re)published since the ledger's last batch (minus the lookback window), counted
    or not (quarantined orders too: an order that left silver must take back what it
    contributed). The ledger's held rows carry the keys an order was counted under, so a
    change of its date, territory, customer or product updates the old group too.
    Expects the model to define an `orders` CTE (silver's published orders) before it. -#}
{% macro changed_orders_ctes() -%}
{%- set lookback_minutes = medallion.lookback_minutes() -%}
orders_quarantine as (

    select * from {{ ref('slv_orders_quarantine') }}

),

previous_state as (

    select * from {{ this }}

),

watermark as (

    select {{ dbt.dateadd('minute', -lookback_minutes, 'max(_batch_at)') }} as changed_after
    from previous_state

),

changed_orders as (

    select orders.sales_order_id
    from orders
    cross join watermark
    where orders._batch_at > watermark.changed_after

    union

    select orders_quarantine.sales_order_id
    from orders_quarantine
    cross join watermark
    where orders_quarantine._batch_at > watermark.changed_after

),
{%- endmacro %}


{#- The CTEs an incremental gold *_state model starts from, ending with ledger_rebuilt:
    previous_state (this model), last_batch (its newest _batch_at) and ledger_rebuilt (1
    when the oldest row of the model's `ledger` CTE is newer than that batch: the ledger was
    rebuilt after the state, refreshed alone or on its first run after an upgrade, so it
    holds whole totals, not changes, and the model recomputes every group from it). The
    model then adds the ledger rows with _batch_at > last_batch: exactly those, no lookback,
    since the ledger and the state stamp the same run's start. -#}
{% macro ledger_state_ctes() -%}
previous_state as (

    select * from {{ this }}

),

last_batch as (

    select max(previous_state._batch_at) as batch_at
    from previous_state

),

ledger_rebuilt as (

    select
        case
            when min(ledger._batch_at) > (select last_batch.batch_at from last_batch) then 1
            else 0
        end as is_rebuilt
    from ledger

),
{%- endmacro %}
