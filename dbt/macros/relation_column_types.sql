{#- A query returning (column_name, actual_type) for a relation from
    information_schema, with the type normalised to the logical names that
    column_types_match compares against. -#}
{% macro relation_column_types(relation) -%}
    {{ return(adapter.dispatch('relation_column_types', 'medallion')(relation)) }}
{%- endmacro %}

{% macro duckdb__relation_column_types(relation) -%}
    select
        lower(column_name) as column_name,
        case
            when data_type like 'DECIMAL%'
                then concat('decimal(', numeric_precision, ',', numeric_scale, ')')
            when data_type = 'VARCHAR' then 'text'
            else lower(data_type)
        end as actual_type
    from information_schema.columns
    where
        table_catalog = '{{ relation.database }}'
        and lower(table_schema) = lower('{{ relation.schema }}')
        and lower(table_name) = lower('{{ relation.identifier }}')
{%- endmacro %}

{% macro sqlserver__relation_column_types(relation) -%}
    select
        lower(column_name) as column_name,
        case lower(data_type)
            when 'int' then 'integer'
            when 'bit' then 'boolean'
            when 'datetime2' then 'timestamp'
            when 'datetime' then 'timestamp'
            when 'nvarchar' then 'text'
            when 'varchar' then 'text'
            when 'nchar' then 'text'
            when 'char' then 'text'
            when 'decimal'
                then concat('decimal(', numeric_precision, ',', numeric_scale, ')')
            when 'numeric'
                then concat('decimal(', numeric_precision, ',', numeric_scale, ')')
            else lower(data_type)
        end as actual_type
    from {{ adapter.quote(relation.database) }}.information_schema.columns
    where
        table_schema = '{{ relation.schema }}'
        and table_name = '{{ relation.identifier }}'
{%- endmacro %}


{#- The manifest node (a graph dict) of the model a relation was built from. -#}
{% macro model_node_for(relation) -%}
    {%- for node in graph.nodes.values() -%}
        {%- if node.resource_type == 'model'
            and (node.alias | lower) == (relation.identifier | lower)
            and (node.schema | lower) == (relation.schema | lower) -%}
            {{ return(node) }}
        {%- endif -%}
    {%- endfor -%}
    {{ exceptions.raise_compiler_error("no model builds the relation " ~ relation) }}
{%- endmacro %}
