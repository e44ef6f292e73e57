{#- No row lost or invented between layers: rows of `source_model` (bronze) =
    rows of the published model + rows of its `quarantine_model`.

    Batch scope (macros/gate_scope.sql) with a `key`: the same per key, for every key the
    batch loaded into bronze or changed in the model or its quarantine. -#}
{% test row_conservation(model, source_model, quarantine_model, key=none) %}

{%- set filters = [
    medallion.batch_filter(source_model, 'batch_row'),
    medallion.batch_filter(model, 'batch_row'),
    medallion.batch_filter(quarantine_model, 'batch_row')] -%}

{%- if key and filters | select | list | length == 3 %}

with

batch_keys as (

    select {{ key }} from {{ source_model }} as batch_row where {{ filters[0] }}
    union
    select {{ key }} from {{ model }} as batch_row where {{ filters[1] }}
    union
    select {{ key }} from {{ quarantine_model }} as batch_row where {{ filters[2] }}

),

{%- for name, relation in [('source', source_model), ('published', model), ('quarantined', quarantine_model)] %}

{{ name }}_rows as (

    select
        counted.{{ key }},
        count(*) as n_rows
    from {{ relation }} as counted
    inner join batch_keys
        on counted.{{ key }} = batch_keys.{{ key }}
    group by counted.{{ key }}

),
{%- endfor %}

compared as (

    select
        batch_keys.{{ key }},
        coalesce(source_rows.n_rows, 0) as source_rows,
        coalesce(published_rows.n_rows, 0) as published_rows,
        coalesce(quarantined_rows.n_rows, 0) as quarantined_rows
    from batch_keys
    left join source_rows on batch_keys.{{ key }} = source_rows.{{ key }}
    left join published_rows on batch_keys.{{ key }} = published_rows.{{ key }}
    left join quarantined_rows on batch_keys.{{ key }} = quarantined_rows.{{ key }}

)

select *
from compared
where source_rows <> published_rows + quarantined_rows

{%- else %}

with

source_rows as (

    select count(*) as n_rows from {{ source_model }}

),

published_rows as (

    select count(*) as n_rows from {{ model }}

),

quarantined_rows as (

    select count(*) as n_rows from {{ quarantine_model }}

)

select
    source_rows.n_rows as source_rows,
    published_rows.n_rows as published_rows,
    quarantined_rows.n_rows as quarantined_rows
from source_rows
cross join published_rows
cross join quarantined_rows
where source_rows.n_rows <> published_rows.n_rows + quarantined_rows.n_rows

{%- endif %}

{% endtest %}
