{#- Every bronze customer with its person or store name, its type and the rules it
    breaks (quarantine_reasons, '' when valid). slv_customers publishes the valid
    rows, slv_customers_quarantine the others.

    Incremental (customers grow with the history: 2 M at SF 100): a run re-checks the
    customers loaded since the last batch (minus the lookback window), those whose person
    or store was, those quarantined last time (a missing person, store or territory may
    have arrived) and those whose territory is gone, and replaces them by customer_id.
    Rows deleted upstream arrive with a snapshot load, which rebuilds the table
    (should_full_refresh). -#}
{%- set rules = [
    ['null_territory_id', 'customers.territory_id is null'],
    ['missing_person_and_store', 'customers.person_id is null and customers.store_id is null'],
    ['orphan_person', 'customers.person_id is not null and persons.person_id is null'],
    ['orphan_store', 'customers.store_id is not null and stores.store_id is null'],
    ['orphan_territory',
        'customers.territory_id is not null and territories.territory_id is null'],
] -%}
{%- set lookback_minutes = medallion.lookback_minutes() -%}

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

{% if is_incremental() -%}

previous_checks as (

    select * from {{ this }}

),

watermark as (

    select {{ dbt.dateadd('minute', -lookback_minutes, 'max(_batch_at)') }} as changed_after
    from previous_checks

),

changed_customers as (

    select customers.customer_id
    from customers
    cross join watermark
    where customers._loaded_at > watermark.changed_after

    union

    select customers.customer_id
    from customers
    inner join persons
        on customers.person_id = persons.person_id
    cross join watermark
    where persons._loaded_at > watermark.changed_after

    union

    select customers.customer_id
    from customers
    inner join stores
        on customers.store_id = stores.store_id
    cross join watermark
    where stores._loaded_at > watermark.changed_after

    union

    select customer_id
    from previous_checks
    where quarantine_reasons <> ''

    union

    select previous_checks.customer_id
    from previous_checks
    left join territories
        on previous_checks.territory_id = territories.territory_id
    where previous_checks.territory_id is not null and territories.territory_id is null

),

customers_in_scope as (

    select customers.*
    from customers
    where customers.customer_id in (select changed_customers.customer_id from changed_customers)

),

{%- else %}

customers_in_scope as (

    select * from customers

),

{%- endif %}

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
        {{ medallion.quarantine_reasons(rules) }} as quarantine_reasons,
        {{ medallion.batch_at() }} as _batch_at

    from customers_in_scope as customers
    left join persons
        on customers.person_id = persons.person_id
    left join stores
        on customers.store_id = stores.store_id
    left join territories
        on customers.territory_id = territories.territory_id

)

select * from final
