{#- Every bronze order line with the line-level rules it breaks (line_reasons, ''
    when valid). Order-level consequences (a line of a quarantined order) are added
    in slv_order_lines / slv_order_lines_quarantine, which read slv_order_checks.

    Incremental: a run re-checks every line of the orders that changed and replaces
    them by sales_order_detail_id. An order changed when one of its lines or its
    header was loaded since the last batch (minus the lookback window), when one of
    its lines was quarantined last time (a missing parent may have arrived since), or
    when it has a line of a product that is quarantined now. -#}
{%- set rules = [
    ['null_sales_order_id', 'order_lines.sales_order_id is null'],
    ['null_product_id', 'order_lines.product_id is null'],
    ['null_order_qty', 'order_lines.order_qty is null'],
    ['null_unit_price', 'order_lines.unit_price is null'],
    ['null_unit_price_discount', 'order_lines.unit_price_discount is null'],
    ['null_line_total', 'order_lines.line_total is null'],
    ['non_positive_quantity', 'order_lines.order_qty <= 0'],
    ['non_positive_price', 'order_lines.unit_price <= 0'],
    ['discount_out_of_range',
        'order_lines.unit_price_discount < 0 or order_lines.unit_price_discount >= 1'],
    ['orphan_order',
        'order_lines.sales_order_id is not null and order_ids.sales_order_id is null'],
    ['orphan_product',
        'order_lines.product_id is not null and products.product_id is null'],
] -%}
{%- set lookback_minutes = medallion.lookback_minutes() -%}

-- depends_on: {{ ref('slv_products_quarantine') }}

with

bronze_order_lines as (

    select * from {{ ref('brz_sales__sales_order_detail') }}

),

orders as (

    select * from {{ ref('brz_sales__sales_order_header') }}

),

products as (

    select * from {{ ref('slv_products') }}

),

{% if is_incremental() -%}

products_quarantine as (

    select * from {{ ref('slv_products_quarantine') }}

),

previous_checks as (

    select * from {{ this }}

),

watermark as (

    select {{ dbt.dateadd('minute', -lookback_minutes, 'max(_batch_at)') }} as changed_after
    from previous_checks

),

changed_orders as (

    select bronze_order_lines.sales_order_id
    from bronze_order_lines
    cross join watermark
    where bronze_order_lines._loaded_at > watermark.changed_after

    union

    select orders.sales_order_id
    from orders
    cross join watermark
    where orders._loaded_at > watermark.changed_after

    union

    select sales_order_id
    from previous_checks
    where line_reasons <> ''

    union

    select bronze_order_lines.sales_order_id
    from bronze_order_lines
    inner join products_quarantine
        on bronze_order_lines.product_id = products_quarantine.product_id

),

order_lines as (

    select bronze_order_lines.*
    from bronze_order_lines
    cross join watermark
    where
        bronze_order_lines.sales_order_id in (select changed_orders.sales_order_id from changed_orders)
        or (
            bronze_order_lines.sales_order_id is null
            and bronze_order_lines._loaded_at > watermark.changed_after
        )

),

{%- else %}

order_lines as (

    select * from bronze_order_lines

),

{%- endif %}

order_ids as (

    select distinct sales_order_id
    from orders

),

final as (

    select
        order_lines.sales_order_detail_id,
        order_lines.sales_order_id,
        order_lines.product_id,
        order_lines.special_offer_id,
        order_lines.carrier_tracking_number,
        order_lines.order_qty,
        order_lines.unit_price,
        order_lines.unit_price_discount,
        order_lines.line_total,
        order_lines.modified_at,
        order_lines._loaded_at,
        {{ medallion.quarantine_reasons(rules) }} as line_reasons,
        {{ medallion.batch_at() }} as _batch_at

    from order_lines
    left join order_ids
        on order_lines.sales_order_id = order_ids.sales_order_id
    left join products
        on order_lines.product_id = products.product_id

)

select * from final
