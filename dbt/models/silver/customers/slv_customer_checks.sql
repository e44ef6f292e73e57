{#- Every bronze customer with its person or store name, its type and the rules it
    breaks (quarantine_reasons, '' when valid). slv_customers publishes the valid
    rows, slv_customers_quarantine the others. -#}
{%- set rules = [
    ['null_territory_id', 'customers.territory_id is null'],
    ['missing_person_and_store', 'customers.person_id is null and customers.store_id is null'],
    ['orphan_person', 'customers.person_id is not null and persons.person_id is null'],
    ['orphan_store', 'customers.store_id is not null and stores.store_id is null'],
    ['orphan_territory',
        'customers.territory_id is not null and territories.territory_id is null'],
] -%}

with

customers as (

    select * from {{ ref('brz_sales__customer') }}

),

persons as (

    select * from {{ ref('brz_person__person') }}

),

stores as (

    select * from {{ ref('brz_sales__store') }}

),

territories as (

    select * from {{ ref('slv_territories') }}

),

final as (

    select
        customers.customer_id,
        customers.account_number,
        case
            when customers.person_id is not null and customers.store_id is null
                then 'individual'
            else 'store'
        end as customer_type,
        case
            when customers.person_id is not null and customers.store_id is null
                then concat_ws(' ', persons.first_name, persons.last_name)
            else stores.store_name
        end as customer_name,
        customers.person_id,
        persons.first_name,
        persons.last_name,
        customers.store_id,
        stores.store_name,
        customers.territory_id,
        customers.modified_at,
        customers._loaded_at,
        {{ medallion.quarantine_reasons(rules) }} as quarantine_reasons

    from customers
    left join persons
        on customers.person_id = persons.person_id
    left join stores
        on customers.store_id = stores.store_id
    left join territories
        on customers.territory_id = territories.territory_id

)

select * from final
