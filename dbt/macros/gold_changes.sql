{#- Gold's business rules and change tracking, written once. -#}


{#- The counted-order rule: rejected (4) and cancelled (6) orders count in no gold measure.
    Gold's models and the tests that reconcile gold with silver use it. -#}
{% macro counted_order(status='status') -%}
    {{ status }} not in (4, 6)
{%- endmacro %}


{#- The CTEs an incremental gold *_state model starts from, ending with changed_order_keys:
    every (order, date, territory, customer, product) an order silver (re)published since
    this model's last batch (minus the lookback window) is or was under (order_keys_state),
    so a model recomputes the groups such an order left as well as the ones it is in now.
    Expects the model to define an `orders` CTE (silver's published orders) before it. -#}
{% macro changed_order_keys_ctes() -%}
{%- set lookback_minutes = medallion.lookback_minutes() -%}
order_keys as (

    select * from {{ ref('order_keys_state') }}

),

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

changed_order_keys as (

    select order_keys.*
    from order_keys
    where order_keys.sales_order_id in (select changed_orders.sales_order_id from changed_orders)

),
{%- endmacro %}
