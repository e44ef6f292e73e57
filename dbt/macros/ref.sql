{#- ref() as dbt's, except across layers: a node reads the models of its own layer where
    they are built (the audit schema: the candidate under test) and the models of
    another layer where they are published. So gold is built and tested from published
    silver only, and a silver candidate that failed its tests never reaches gold.
    In one `dbt build`, which runs a model's tests before anything downstream of it, a
    selected upstream model is read in its audit schema: the candidate that just passed
    its tests in this invocation (`medallion build` then publishes silver and gold). -#}
{% macro ref() -%}
    {%- set version = kwargs.get('version') or kwargs.get('v') -%}
    {%- if version is not none -%}
        {%- set relation = builtins.ref(*varargs, version=version) -%}
    {%- else -%}
        {%- set relation = builtins.ref(*varargs) -%}
    {%- endif -%}
    {{ return(medallion.read_relation(relation)) }}
{%- endmacro %}


{#- The relation a node reads for `relation` (a model's relation as dbt resolves it). -#}
{% macro read_relation(relation) -%}
    {%- if not execute or relation is none or relation.schema is none -%}
        {{ return(relation) }}
    {%- endif -%}
    {%- set ns = namespace(published=none) -%}
    {%- for published_schema, audit_schema in var('audit_schemas', {}).items() -%}
        {%- if (relation.schema | lower) == (audit_schema | lower) -%}
            {%- set ns.published = published_schema -%}
        {%- endif -%}
    {%- endfor -%}
    {%- if ns.published is none or ns.published == medallion.node_layer() -%}
        {{ return(relation) }}
    {%- endif -%}
    {%- if flags.WHICH == 'build' -%}
        {%- set upstream = medallion.model_node_for(relation) -%}
        {%- if upstream.unique_id in selected_resources -%}
            {{ return(relation) }}
        {%- endif -%}
    {%- endif -%}
    {{ return(relation.incorporate(path={'schema': ns.published})) }}
{%- endmacro %}


{#- The layer of the node being rendered: its layer tag (models get theirs from the
    folder, singular tests carry one), else the folder under models/ (generic tests). -#}
{% macro node_layer() -%}
    {%- if model is not defined or model is none -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set layers = ['bronze'] + (var('audit_schemas', {}).keys() | list) -%}
    {%- for tag in model.tags or [] -%}
        {%- if tag in layers -%}
            {{ return(tag) }}
        {%- endif -%}
    {%- endfor -%}
    {%- if model.fqn and model.fqn | length > 2 and model.fqn[1] in layers -%}
        {{ return(model.fqn[1]) }}
    {%- endif -%}
    {{ return(none) }}
{%- endmacro %}
