{#- Every bronze product with its subcategory and category names and the rules it
    breaks (quarantine_reasons, '' when valid). slv_products publishes the valid
    rows, slv_products_quarantine the others. -#}
{%- set rules = [
    ['null_product_name', 'products.product_name is null'],
    ['null_product_number', 'products.product_number is null'],
    ['null_standard_cost', 'products.standard_cost is null'],
    ['null_list_price', 'products.list_price is null'],
    ['negative_price', 'products.standard_cost < 0 or products.list_price < 0'],
    ['orphan_subcategory',
        'products.product_subcategory_id is not null'
        ~ ' and subcategories.product_subcategory_id is null'],
    ['orphan_category',
        'subcategories.product_category_id is not null'
        ~ ' and categories.product_category_id is null'],
    ['duplicate_product_number', 'products.product_number_rank > 1'],
] -%}

with

bronze_products as (

    select * from {{ ref('brz_production__product') }}

),

subcategories as (

    select * from {{ ref('brz_production__product_subcategory') }}

),

categories as (

    select * from {{ ref('brz_production__product_category') }}

),

products as (

    select
        *,
        -- the lowest product_id keeps a product number; later ones are duplicates
        case
            when product_number is null then 1
            else row_number() over (partition by product_number order by product_id)
        end as product_number_rank

    from bronze_products

),

final as (

    select
        products.product_id,
        products.product_number,
        products.product_name,
        products.product_subcategory_id,
        subcategories.subcategory_name,
        subcategories.product_category_id,
        categories.category_name,
        products.standard_cost,
        products.list_price,
        products.color,
        products.product_line,
        products.is_finished_good,
        products.sell_start_at,
        products.sell_end_at,
        products.modified_at,
        products._loaded_at,
        {{ medallion.quarantine_reasons(rules) }} as quarantine_reasons

    from products
    left join subcategories
        on products.product_subcategory_id = subcategories.product_subcategory_id
    left join categories
        on subcategories.product_category_id = categories.product_category_id

)

select * from final
