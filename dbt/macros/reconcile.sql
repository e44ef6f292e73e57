{#- The CTEs through which the daily sales and customer value reconciliation tests prove the
    order ledger against silver, ending with differing_orders (one row, order_count: the
    (order, day, territory, customer) combinations whose ledger rows, summed, differ from
    what the order's counted row and lines in silver contribute now). Computed again from
    silver here, not with the ledger's own SQL: a test that reused it would share its bugs.
    Batch scope: the orders the batch appended ledger rows for; every other order was
    proven by the batch that last changed it. -#}
{% macro order_ledger_vs_silver_ctes() -%}
{%- set measures = ['order_count', 'units', 'subtotal', 'tax_amt', 'freight', 'total_due'] -%}
{%- set keys = ['sales_order_id', 'order_date', 'territory_id', 'customer_id'] -%}
order_ledger as (

    select * from {{ ref('order_sales_ledger') }} as ledger
    where {{ medallion.in_batch_keys(ref('order_sales_ledger'), ['sales_order_id'], 'ledger') }}

),

ledger_orders as (

    select * from {{ ref('slv_orders') }} as orders
    where {{ medallion.in_batch_keys(ref('order_sales_ledger'), ['sales_order_id'], 'orders') }}

),

ledger_order_lines as (

    select * from {{ ref('slv_order_lines') }} as lines
    where {{ medallion.in_batch_keys(ref('order_sales_ledger'), ['sales_order_id'], 'lines') }}

),

ledger_per_order as (

    select
        {{ keys | join(', ') }},
        {%- for measure in measures %}
        sum({{ measure }}) as {{ measure }}{{ ',' if not loop.last }}
        {%- endfor %}

    from order_ledger
    group by {{ keys | join(', ') }}

),

silver_units_per_order as (

    select
        sales_order_id,
        sum(order_qty) as units

    from ledger_order_lines
    group by sales_order_id

),

silver_per_order as (

    select
        {%- for key in keys %}
        ledger_orders.{{ key }},
        {%- endfor %}
        1 as order_count,
        coalesce(silver_units_per_order.units, 0) as units,
        ledger_orders.subtotal,
        ledger_orders.tax_amt,
        ledger_orders.freight,
        ledger_orders.total_due

    from ledger_orders
    left join silver_units_per_order
        on ledger_orders.sales_order_id = silver_units_per_order.sales_order_id
    where {{ medallion.counted_order('ledger_orders.status') }}

),

differing_orders as (

    select count(*) as order_count
    from ledger_per_order
    full outer join silver_per_order
        on
            {%- for key in keys %}
            {{ 'and ' if not loop.first }}ledger_per_order.{{ key }} = silver_per_order.{{ key }}
            {%- endfor %}
    where
        {%- for measure in measures %}
        {{ 'or ' if not loop.first }}coalesce(ledger_per_order.{{ measure }}, 0) <> coalesce(silver_per_order.{{ measure }}, 0)
        {%- endfor %}

),
{%- endmacro %}
