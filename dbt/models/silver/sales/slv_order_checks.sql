{#- Every bronze order with the rules its header breaks (header_reasons) and the
    full verdict (quarantine_reasons, '' when valid). An order with any quarantined
    line is quarantined whole ('order_has_quarantined_lines'), so a published
    header's amounts always reconcile with its published lines.

    Incremental: a run re-checks the orders that changed and replaces them by
    sales_order_id. An order changed when its header was loaded since the last batch
    (minus the lookback window), when one of its lines was re-checked since this model's
    last batch, when it was quarantined last time (a missing parent may have arrived, a
    future date may have passed), or when its customer is quarantined now. Orders that
    share a sales_order_number with a changed order (now or before) are re-ranked too. -#}
{%- set rules = [
    ['null_order_date', 'orders.ordered_at is null'],
    ['null_customer_id', 'orders.customer_id is null'],
    ['null_territory_id', 'orders.territory_id is null'],
    ['null_status', 'orders.status is null'],
    ['null_online_flag', 'orders.is_online_order is null'],
    ['null_sales_order_number', 'orders.sales_order_number is null'],
    ['null_amount',
        'orders.subtotal is null or orders.tax_amt is null'
        ~ ' or orders.freight is null or orders.total_due is null'],
    ['ship_before_order', 'orders.shipped_at < orders.ordered_at'],
    ['future_order_date', 'orders.ordered_at > ' ~ medallion.utc_now()],
    ['orphan_customer',
        'orders.customer_id is not null and customers.customer_id is null'],
    ['orphan_territory',
        'orders.territory_id is not null and territories.territory_id is null'],
    ['duplicate_sales_order_number', 'orders.sales_order_number_rank > 1'],
] -%}
{%- set lookback_minutes = medallion.lookback_minutes() %}

-- depends_on: {{ ref('slv_customers_quarantine') }}

with

all_bronze_orders as (

    select * from {{ ref('brz_sales__sales_order_header') }}

),

customers as (

    select * from {{ ref('slv_customers') }}

),

territories as (

    select * from {{ ref('slv_territories') }}

),

order_line_checks as (

    select * from {{ ref('slv_order_line_checks') }}

),

{% if is_incremental() -%}

customers_quarantine as (

    select * from {{ ref('slv_customers_quarantine') }}

),

previous_checks as (

    select * from {{ this }}

),

watermark as (

    select
        max(_batch_at) as last_batch_at,
        {{ dbt.dateadd('minute', -lookback_minutes, 'max(_batch_at)') }} as changed_after
    from previous_checks

),

changed_orders as (

    select all_bronze_orders.sales_order_id
    from all_bronze_orders
    cross join watermark
    where all_bronze_orders._loaded_at > watermark.changed_after

    union

    select order_line_checks.sales_order_id
    from order_line_checks
    cross join watermark
    where order_line_checks._batch_at > watermark.last_batch_at

    union

    select sales_order_id
    from previous_checks
    where quarantine_reasons <> ''

    union

    select all_bronze_orders.sales_order_id
    from all_bronze_orders
    inner join customers_quarantine
        on all_bronze_orders.customer_id = customers_quarantine.customer_id

),

changed_order_numbers as (

    select all_bronze_orders.sales_order_number
    from all_bronze_orders
    where all_bronze_orders.sales_order_id in (select changed_orders.sales_order_id from changed_orders)

    union

    select previous_checks.sales_order_number
    from previous_checks
    where previous_checks.sales_order_id in (select changed_orders.sales_order_id from changed_orders)

),

bronze_orders as (

    select all_bronze_orders.*
    from all_bronze_orders
    where
        all_bronze_orders.sales_order_id in (select changed_orders.sales_order_id from changed_orders)
        or all_bronze_orders.sales_order_number in (
            select changed_order_numbers.sales_order_number from changed_order_numbers
        )

),

{%- else %}

bronze_orders as (

    select * from all_bronze_orders

),

{%- endif %}

orders as (

    select
        *,
        -- the lowest sales_order_id keeps an order number; later ones are duplicates
        case
            when sales_order_number is null then 1
            else row_number() over (partition by sales_order_number order by sales_order_id)
        end as sales_order_number_rank

    from bronze_orders

),

quarantined_lines_per_order as (

    select
        sales_order_id,
        count(*) as quarantined_line_count

    from order_line_checks
    where line_reasons <> ''
    group by sales_order_id

),

header_checked as (

    select
        orders.sales_order_id,
        orders.sales_order_number,
        orders.ordered_at,
        orders.due_at,
        orders.shipped_at,
        orders.status,
        orders.is_online_order,
        orders.customer_id,
        orders.sales_person_id,
        orders.territory_id,
        orders.bill_to_address_id,
        orders.ship_to_address_id,
        orders.currency_rate_id,
        orders.purchase_order_number,
        orders.account_number,
        orders.subtotal,
        orders.tax_amt,
        orders.freight,
        orders.total_due,
        orders.modified_at,
        orders._loaded_at,
        {{ medallion.quarantine_reasons(rules) }} as header_reasons,
        coalesce(quarantined_lines_per_order.quarantined_line_count, 0)
            as quarantined_line_count

    from orders
    left join customers
        on orders.customer_id = customers.customer_id
    left join territories
        on orders.territory_id = territories.territory_id
    left join quarantined_lines_per_order
        on orders.sales_order_id = quarantined_lines_per_order.sales_order_id

),

final as (

    select
        *,
        cast(concat_ws(
            ';',
            nullif(header_reasons, ''),
            case when quarantined_line_count > 0 then 'order_has_quarantined_lines' end
        ) as {{ medallion.type_text() }}) as quarantine_reasons,
        {{ medallion.batch_at() }} as _batch_at

    from header_checked

)

select * from final
