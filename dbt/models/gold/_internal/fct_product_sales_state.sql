{#- The incremental state behind fct_product_sales: one row per product ever sold,
    _batch_at when it was last recomputed. A run recomputes only the products touched
    since its last batch (minus the lookback window): every product an order silver
    (re)published since has or had a line of (order_keys_state), and every product whose
    name, number, category or standard cost changed. A product with no counted sale left stays as a row with
    order_count = 0: fct_product_sales hides it, publish_layer deletes it. -#}

-- depends_on: {{ ref('slv_orders_quarantine') }}
-- depends_on: {{ ref('order_keys_state') }}

with

orders as (

    select * from {{ ref('slv_orders') }}

),

order_lines as (

    select * from {{ ref('slv_order_lines') }}

),

products as (

    select * from {{ ref('slv_products') }}

),

{% if is_incremental() -%}

{{ medallion.changed_order_keys_ctes() }}

changed_products as (

    select product_id
    from changed_order_keys
    where product_id is not null

    union

    select previous_state.product_id
    from previous_state
    inner join products
        on previous_state.product_id = products.product_id
    where
        previous_state.product_number <> products.product_number
        or previous_state.product_name <> products.product_name
        or coalesce(previous_state.subcategory_name, '') <> coalesce(products.subcategory_name, '')
        or coalesce(previous_state.category_name, '') <> coalesce(products.category_name, '')
        or previous_state.standard_cost_total
        <> cast(previous_state.units_sold * products.standard_cost as decimal(38, 6))

),

lines_in_scope as (

    select order_lines.*
    from order_lines
    where order_lines.product_id in (select changed_products.product_id from changed_products)

),

{%- else %}

lines_in_scope as (

    select * from order_lines

),

{%- endif %}

counted_lines as (

    select lines_in_scope.*
    from lines_in_scope
    inner join orders
        on lines_in_scope.sales_order_id = orders.sales_order_id
    where {{ medallion.counted_order('orders.status') }}

),

sales_per_product as (

    select
        product_id,
        count(distinct sales_order_id) as order_count,
        sum(order_qty) as units_sold,
        sum(line_total) as revenue

    from counted_lines
    group by product_id

),

recomputed_products as (

    {% if is_incremental() -%}
    select product_id
    from changed_products
    {%- else -%}
    select product_id
    from sales_per_product
    {%- endif %}

),

costed as (

    select
        recomputed_products.product_id,
        products.product_number,
        products.product_name,
        products.subcategory_name,
        products.category_name,
        coalesce(sales_per_product.order_count, 0) as order_count,
        coalesce(sales_per_product.units_sold, 0) as units_sold,
        coalesce(sales_per_product.revenue, 0) as revenue,
        coalesce(sales_per_product.units_sold, 0) * products.standard_cost as standard_cost_total

    from recomputed_products
    left join sales_per_product
        on recomputed_products.product_id = sales_per_product.product_id
    left join products
        on recomputed_products.product_id = products.product_id

),

final as (

    select
        product_id,
        product_number,
        product_name,
        subcategory_name,
        category_name,
        cast(order_count as {{ dbt.type_bigint() }}) as order_count,
        cast(units_sold as {{ dbt.type_bigint() }}) as units_sold,
        cast(revenue as decimal(38, 6)) as revenue,
        cast(standard_cost_total as decimal(38, 6)) as standard_cost_total,
        cast(revenue - standard_cost_total as decimal(38, 6)) as gross_margin,
        {{ medallion.batch_at() }} as _batch_at

    from costed

)

select * from final
