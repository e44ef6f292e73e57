{#- Layer folders set +schema: bronze / silver / gold, used verbatim on every adapter
    (dbt's default would prefix the target schema, e.g. main_bronze). -#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}
        {{ target.schema | trim }}
    {%- else -%}
        {{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}
