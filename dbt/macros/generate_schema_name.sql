{#- Layer folders set +schema: bronze / silver / gold, used verbatim on every adapter
    (dbt's default would prefix the target schema, e.g. main_bronze).
    Write-audit-publish: a model of a layer listed in var('audit_schemas') is built in
    that layer's audit schema (silver -> silver_audit); publish_layer copies it into the
    folder's schema once the layer's tests passed. -#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}
        {{ target.schema | trim }}
    {%- elif node.resource_type == 'model' -%}
        {{ audit_schema_of(custom_schema_name | trim) }}
    {%- else -%}
        {{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}


{#- The schema a layer's models are built and tested in: its audit schema when the
    layer is published through write-audit-publish, else the published schema itself. -#}
{% macro audit_schema_of(published_schema) -%}
    {{ return(var('audit_schemas', {}).get(published_schema, published_schema)) }}
{%- endmacro %}
