{#- The gate between "a few bad rows" and "an upstream outage": the rows of the
    quarantine relation (`model`) that broke a rule themselves are at most `max_ratio`
    (default MEDALLION_QUARANTINE_MAX_RATIO) of the rows of `source_model`.

    `collateral_reasons`: reasons that only say a related row was quarantined (an order
    with one bad line is quarantined whole, with all its lines). A row whose reasons are
    exactly one of them broke no rule itself: it is counted (collateral_rows) but not
    gated; quarantine_collateral warns about such rows. The failing row carries the
    counts, the ratio, the limit and by how many rows the limit was passed. -#}
{% test quarantine_ratio(model, source_model, collateral_reasons=[], max_ratio=none) %}

{%- set ratio = max_ratio if max_ratio is not none
    else env_var('MEDALLION_QUARANTINE_MAX_RATIO', '0.01') -%}
{%- set ratio = ratio | float -%}

with

counts as (

    select
        (select count(*) from {{ source_model }}) as source_rows,
        (select count(*) from {{ model }}
            where {{ medallion.quarantine_violation(collateral_reasons) }}) as violating_rows,
        (select count(*) from {{ model }}
            where not ({{ medallion.quarantine_violation(collateral_reasons) }})) as collateral_rows

)

select
    violating_rows,
    collateral_rows,
    source_rows,
    round(cast(violating_rows as {{ dbt.type_float() }}) / nullif(source_rows, 0), 6) as violation_ratio,
    {{ ratio }} as max_ratio,
    cast(violating_rows - floor({{ ratio }} * source_rows) as {{ dbt.type_bigint() }}) as rows_over_limit
from counts
where violating_rows > {{ ratio }} * source_rows

{% endtest %}


{#- Warns (configure severity: warn) when the quarantine relation holds rows that broke
    no rule themselves, quarantined with a related row (`collateral_reasons`, see
    quarantine_ratio): one row per reason with its count; the warning's count is the rows'. -#}
{% test quarantine_collateral(model, collateral_reasons) %}

{#- the warning counts rows, not reasons -#}
{{ config(fail_calc='coalesce(sum(collateral_rows), 0)') }}

select
    quarantine_reasons,
    count(*) as collateral_rows
from {{ model }}
where not ({{ medallion.quarantine_violation(collateral_reasons) }})
group by quarantine_reasons

{% endtest %}


{#- A quarantined row broke a rule itself: its reasons are not just one collateral reason. -#}
{% macro quarantine_violation(collateral_reasons) -%}
    {%- if collateral_reasons -%}
        quarantine_reasons not in ('{{ collateral_reasons | join("', '") }}')
    {%- else -%}
        1 = 1
    {%- endif -%}
{%- endmacro %}
