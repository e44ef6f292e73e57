{#- Internal: every (order, order_date, territory, customer, product) combination gold has
    seen an order under, from published silver (orders and their lines, published or
    quarantined). The gold *_state models read it to recompute the groups a changed order
    LEFT as well as the ones it is in now: an order whose date, territory or customer
    changed, or a line whose product changed, updates its old group too.
    Incremental: the orders silver (re)published since the last batch are replaced by
    sales_order_id with their old combinations plus their current ones (union: no
    duplicates), so the table grows with key changes, not with runs. -#}
{%- set lookback_minutes = medallion.lookback_minutes() -%}

-- depends_on: {{ ref('slv_orders_quarantine') }}
-- depends_on: {{ ref('slv_order_lines_quarantine') }}

with

orders as (

    select * from {{ ref('slv_orders') }}

),

order_lines as (

    select * from {{ ref('slv_order_lines') }}

),

{% if is_incremental() -%}

orders_quarantine as (

    select * from {{ ref('slv_orders_quarantine') }}

),

order_lines_quarantine as (

    select * from {{ ref('slv_order_lines_quarantine') }}

),

previous_keys as (

    select * from {{ this }}

),

watermark as (

    select {{ dbt.dateadd('minute', -lookback_minutes, 'max(_batch_at)') }} as changed_after
    from previous_keys

),

all_orders as (

    select
        sales_order_id,
        order_date,
        territory_id,
        customer_id,
        _batch_at
    from orders

    union all

    select
        sales_order_id,
        order_date,
        territory_id,
        customer_id,
        _batch_at
    from orders_quarantine

),

all_order_lines as (

    select
        sales_order_id,
        product_id
    from order_lines

    union all

    select
        sales_order_id,
        product_id
    from order_lines_quarantine

),

changed_orders as (

    select all_orders.*
    from all_orders
    cross join watermark
    where all_orders._batch_at > watermark.changed_after

),

current_keys as (

    select
        changed_orders.sales_order_id,
        changed_orders.order_date,
        changed_orders.territory_id,
        changed_orders.customer_id,
        all_order_lines.product_id
    from changed_orders
    left join all_order_lines
        on changed_orders.sales_order_id = all_order_lines.sales_order_id

),

order_keys as (

    select
        previous_keys.sales_order_id,
        previous_keys.order_date,
        previous_keys.territory_id,
        previous_keys.customer_id,
        previous_keys.product_id
    from previous_keys
    where previous_keys.sales_order_id in (select changed_orders.sales_order_id from changed_orders)

    union

    select
        sales_order_id,
        order_date,
        territory_id,
        customer_id,
        product_id
    from current_keys

),

{%- else %}

order_keys as (

    select distinct
        orders.sales_order_id,
        orders.order_date,
        orders.territory_id,
        orders.customer_id,
        order_lines.product_id
    from orders
    left join order_lines
        on orders.sales_order_id = order_lines.sales_order_id

),

{%- endif %}

final as (

    select
        sales_order_id,
        order_date,
        territory_id,
        customer_id,
        product_id,
        {{ medallion.batch_at() }} as _batch_at

    from order_keys

)

select * from final
