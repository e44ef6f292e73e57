{#- The relation's columns are exactly the columns documented for the model, each
    of the documented `data_type` (a logical type: integer, smallint, bigint,
    decimal(p,s), timestamp, date, boolean, text). Catches a schema change or a
    cast that drifted. Reads information_schema in SQL, so compiling needs no
    connection; types are normalised per adapter by relation_column_types(). -#}
{% test column_types_match(model) %}

{%- set documented = [] -%}
{%- if execute -%}
    {%- set node = medallion.model_node_for(model) -%}
    {%- for column in node.columns.values() -%}
        {%- if not column.data_type -%}
            {{ exceptions.raise_compiler_error(
                "column_types_match: column '" ~ column.name ~ "' of model '" ~ node.name
                ~ "' has no data_type in " ~ node.patch_path) }}
        {%- endif -%}
        {%- do documented.append(column) -%}
    {%- endfor -%}
    {%- if documented | length == 0 -%}
        {{ exceptions.raise_compiler_error(
            "column_types_match: model '" ~ node.name ~ "' documents no columns") }}
    {%- endif -%}
{%- endif -%}

with

documented as (

    {% for column in documented -%}
    select
        '{{ column.name | lower }}' as column_name,
        '{{ column.data_type | lower | replace(" ", "") }}' as expected_type
    {%- if not loop.last %}
    union all
    {% endif -%}
    {%- endfor %}

),

actual as (

    {{ medallion.relation_column_types(model) }}

),

compared as (

    select
        coalesce(documented.column_name, actual.column_name) as column_name,
        documented.expected_type,
        actual.actual_type
    from documented
    full outer join actual
        on documented.column_name = actual.column_name

)

select *
from compared
where
    expected_type is null
    or actual_type is null
    or expected_type <> actual_type

{% endtest %}
