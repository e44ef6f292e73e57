{#- No row lost or invented between layers: rows of `source_model` (bronze) =
    rows of the published model + rows of its `quarantine_model`. -#}
{% test row_conservation(model, source_model, quarantine_model) %}

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

{% endtest %}
