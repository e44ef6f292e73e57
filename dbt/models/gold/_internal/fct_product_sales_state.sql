{#- The incremental state behind fct_product_sales: one row per product ever sold,
    _batch_at when it was last recomputed. Its totals are additive: a run adds to each
    product the rows product_sales_ledger appended since this model's last batch (what
    the changed orders contribute now less what they contributed before), instead of
    reading every line of the products those orders touched. Products whose name, number,
    category or standard cost changed are rewritten too. A product with no counted sale
    left stays as a row with order_count = 0: fct_product_sales hides it, publish_layer
    deletes it.

    The rows added are exactly those after this model's last batch; a ledger rebuilt after
    it holds whole totals, and every product is then recomputed from it (macros/gold_changes.sql,
    ledger_state_ctes). -#}

with

ledger as (

    select * from {{ ref('product_sales_ledger') }}

),

products as (

    select * from {{ ref('slv_products') }}

),

{% if is_incremental() -%}

{{ medallion.ledger_state_ctes() }}

ledger_changes as (

    select
        ledger.product_id,
        sum(ledger.order_count) as order_count,
        sum(ledger.units_sold) as units_sold,
        sum(ledger.revenue) as revenue

    from ledger
    where ledger._batch_at > (select last_batch.batch_at from last_batch)
    group by ledger.product_id

),

changed_products as (

    select product_id
    from ledger_changes

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

    union

    select previous_state.product_id
    from previous_state
    cross join ledger_rebuilt
    where ledger_rebuilt.is_rebuilt = 1

),

sales_per_product as (

    select
        changed_products.product_id,
        coalesce(previous_state.order_count, 0) + coalesce(ledger_changes.order_count, 0) as order_count,
        coalesce(previous_state.units_sold, 0) + coalesce(ledger_changes.units_sold, 0) as units_sold,
        coalesce(previous_state.revenue, 0) + coalesce(ledger_changes.revenue, 0) as revenue

    from changed_products
    cross join ledger_rebuilt
    left join previous_state
        on
            changed_products.product_id = previous_state.product_id
            and ledger_rebuilt.is_rebuilt = 0
    left join ledger_changes
        on changed_products.product_id = ledger_changes.product_id

),

{%- else %}

sales_per_product as (

    select
        product_id,
        sum(order_count) as order_count,
        sum(units_sold) as units_sold,
        sum(revenue) as revenue

    from ledger
    group by product_id

),

{%- endif %}

costed as (

    select
        sales_per_product.product_id,
        products.product_number,
        products.product_name,
        products.subcategory_name,
        products.category_name,
        sales_per_product.order_count,
        sales_per_product.units_sold,
        sales_per_product.revenue,
        sales_per_product.units_sold * products.standard_cost as standard_cost_total

    from sales_per_product
    left join products
        on sales_per_product.product_id = products.product_id

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
