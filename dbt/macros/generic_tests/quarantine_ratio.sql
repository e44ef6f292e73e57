{#- The quarantine relation (`model`) holds at most `max_ratio` of the rows of
    `source_model`. Above it the cause is an upstream outage, not a few bad rows,
    so the layer's gate fails. max_ratio defaults to MEDALLION_QUARANTINE_MAX_RATIO. -#}
{% test quarantine_ratio(model, source_model, max_ratio=none) %}

{%- set ratio = max_ratio if max_ratio is not none
    else env_var('MEDALLION_QUARANTINE_MAX_RATIO', '0.01') -%}
{%- set ratio = ratio | float -%}

with

source_rows as (

    select count(*) as n_rows from {{ source_model }}

),

quarantined_rows as (

    select count(*) as n_rows from {{ model }}

)

select
    quarantined_rows.n_rows as quarantined_rows,
    source_rows.n_rows as source_rows,
    {{ ratio }} as max_ratio
from source_rows
cross join quarantined_rows
where quarantined_rows.n_rows > {{ ratio }} * source_rows.n_rows

{% endtest %}
