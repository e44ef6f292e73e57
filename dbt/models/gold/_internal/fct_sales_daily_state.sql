{#- The incremental state behind fct_sales_daily: one row per (order_date, territory_id)
    ever computed, _batch_at when it was last rewritten. Its sums are additive: a run adds
    to each group the rows order_sales_ledger appended since this model's last batch (what
    the changed orders contribute now less what they contributed before, under the day and
    territory they were counted in then), instead of reading every order and line of the
    groups those orders touched. customer_count stays exact: it is counted again for the
    touched groups from the ledger's net order count per (day, territory, customer), one
    row per order, not per line. The groups of a renamed territory are rewritten too.
    A group with no counted order left (its only order was cancelled, say) stays as a row
    with order_count = 0: fct_sales_daily hides it, publish_layer deletes it.

    The rows added are exactly those after this model's last batch; a ledger rebuilt after
    it holds whole totals, and every group is then recomputed from it (macros/gold_changes.sql,
    ledger_state_ctes). -#}

with

ledger as (

    select * from {{ ref('order_sales_ledger') }}

),

territories as (

    select * from {{ ref('slv_territories') }}

),

{% if is_incremental() -%}

{{ medallion.ledger_state_ctes() }}

ledger_changes as (

    select
        ledger.order_date,
        ledger.territory_id,
        sum(ledger.order_count) as order_count,
        sum(ledger.units) as units,
        sum(ledger.subtotal) as subtotal,
        sum(ledger.tax_amt) as tax_amt,
        sum(ledger.freight) as freight,
        sum(ledger.total_due) as total_due

    from ledger
    where ledger._batch_at > (select last_batch.batch_at from last_batch)
    group by
        ledger.order_date,
        ledger.territory_id

),

changed_groups as (

    select
        order_date,
        territory_id
    from ledger_changes

    union

    select
        previous_state.order_date,
        previous_state.territory_id
    from previous_state
    inner join territories
        on previous_state.territory_id = territories.territory_id
    where
        previous_state.territory_name <> territories.territory_name
        or previous_state.country_region_code <> territories.country_region_code

    union

    select
        previous_state.order_date,
        previous_state.territory_id
    from previous_state
    cross join ledger_rebuilt
    where ledger_rebuilt.is_rebuilt = 1

),

sums_per_group as (

    select
        changed_groups.order_date,
        changed_groups.territory_id,
        coalesce(previous_state.order_count, 0) + coalesce(ledger_changes.order_count, 0) as order_count,
        coalesce(previous_state.units, 0) + coalesce(ledger_changes.units, 0) as units,
        coalesce(previous_state.subtotal, 0) + coalesce(ledger_changes.subtotal, 0) as subtotal,
        coalesce(previous_state.tax_amt, 0) + coalesce(ledger_changes.tax_amt, 0) as tax_amt,
        coalesce(previous_state.freight, 0) + coalesce(ledger_changes.freight, 0) as freight,
        coalesce(previous_state.total_due, 0) + coalesce(ledger_changes.total_due, 0) as total_due

    from changed_groups
    cross join ledger_rebuilt
    left join previous_state
        on
            changed_groups.order_date = previous_state.order_date
            and changed_groups.territory_id = previous_state.territory_id
            and ledger_rebuilt.is_rebuilt = 0
    left join ledger_changes
        on
            changed_groups.order_date = ledger_changes.order_date
            and changed_groups.territory_id = ledger_changes.territory_id

),

ledger_in_scope as (

    select ledger.*
    from ledger
    inner join changed_groups
        on
            ledger.order_date = changed_groups.order_date
            and ledger.territory_id = changed_groups.territory_id

),

{%- else %}

sums_per_group as (

    select
        order_date,
        territory_id,
        sum(order_count) as order_count,
        sum(units) as units,
        sum(subtotal) as subtotal,
        sum(tax_amt) as tax_amt,
        sum(freight) as freight,
        sum(total_due) as total_due

    from ledger
    group by
        order_date,
        territory_id

),

ledger_in_scope as (

    select * from ledger

),

{%- endif %}

counted_customer_days as (

    select
        order_date,
        territory_id,
        customer_id

    from ledger_in_scope
    group by
        order_date,
        territory_id,
        customer_id
    having sum(order_count) > 0

),

customers_per_group as (

    select
        order_date,
        territory_id,
        count(*) as customer_count

    from counted_customer_days
    group by
        order_date,
        territory_id

),

final as (

    select
        sums_per_group.order_date,
        sums_per_group.territory_id,
        territories.territory_name,
        territories.country_region_code,
        cast(sums_per_group.order_count as {{ dbt.type_bigint() }}) as order_count,
        cast(coalesce(customers_per_group.customer_count, 0) as {{ dbt.type_bigint() }}) as customer_count,
        cast(sums_per_group.units as {{ dbt.type_bigint() }}) as units,
        cast(sums_per_group.subtotal as decimal(19, 4)) as subtotal,
        cast(sums_per_group.tax_amt as decimal(19, 4)) as tax_amt,
        cast(sums_per_group.freight as decimal(19, 4)) as freight,
        cast(sums_per_group.total_due as decimal(19, 4)) as total_due,
        {{ medallion.batch_at() }} as _batch_at

    from sums_per_group
    left join customers_per_group
        on
            sums_per_group.order_date = customers_per_group.order_date
            and sums_per_group.territory_id = customers_per_group.territory_id
    left join territories
        on sums_per_group.territory_id = territories.territory_id

)

select * from final
