{#- The rows of `model` (a quarantine relation) that broke a rule themselves are at most
    `max_ratio` of the rows of `source_model`. Above it the cause is an upstream outage, not
    a few bad rows, so the layer's gate fails. Rows quarantined only as collateral of the
    whole-order rule (`collateral_reasons`, e.g. a valid line of an order whose other line
    broke a rule) are counted and shown beside it, never gated: one bad line in a 72-line
    order must not weigh 72 times. max_ratio defaults to MEDALLION_QUARANTINE_MAX_RATIO.
    The failing row carries every number: violations, collateral, source rows, the ratio
    and the limit. -#}
{% test quarantine_ratio(model, source_model, collateral_reasons=[], max_ratio=none) %}

{%- set ratio = max_ratio if max_ratio is not none
    else env_var('MEDALLION_QUARANTINE_MAX_RATIO', '0.01') -%}
{%- set ratio = ratio | float -%}
{#- The reasons with every collateral one removed: empty when only collateral is left. -#}
{%- set own_reasons = "concat(';', quarantine_reasons, ';')" -%}
{%- for reason in collateral_reasons -%}
    {%- set own_reasons = "replace(" ~ own_reasons ~ ", ';" ~ reason ~ ";', ';')" -%}
{%- endfor %}

with

source_rows as (

    select count(*) as n_rows from {{ source_model }}

),

quarantined as (

    select
        sum(case when {{ own_reasons }} <> ';' then 1 else 0 end) as violations,
        sum(case when {{ own_reasons }} = ';' then 1 else 0 end) as collateral
    from {{ model }}

)

select
    coalesce(quarantined.violations, 0) as violating_rows,
    coalesce(quarantined.collateral, 0) as collateral_rows,
    source_rows.n_rows as source_rows,
    cast(coalesce(quarantined.violations, 0) as float)
    / nullif(source_rows.n_rows, 0) as violation_ratio,
    {{ ratio }} as max_ratio
from source_rows
cross join quarantined
where coalesce(quarantined.violations, 0) > {{ ratio }} * source_rows.n_rows

{% endtest %}
