{#- Relation names drop the layer prefix of the model name:
    brz_sales__sales_order_header -> sales_order_header, slv_order_lines -> order_lines.
    Gold models are named by the contract and keep their names. -#}
{% macro generate_alias_name(custom_alias_name=none, node=none) -%}
    {%- if custom_alias_name -%}
        {{ custom_alias_name | trim }}
    {%- elif node.version -%}
        {{ return(node.name ~ "_v" ~ (node.version | replace(".", "_"))) }}
    {%- elif node.name.startswith('brz_') and '__' in node.name -%}
        {{ node.name.split('__', 1)[1] }}
    {%- elif node.name.startswith('slv_') -%}
        {{ node.name[4:] }}
    {%- else -%}
        {{ node.name }}
    {%- endif -%}
{%- endmacro %}
