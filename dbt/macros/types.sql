{#- Text types. dbt's type_string() is varchar(8000) on SQL Server, which is not Unicode:
    names from Person would lose characters, so text is nvarchar there. -#}
{% macro type_text() -%}
    {{ return(adapter.dispatch('type_text', 'medallion')()) }}
{%- endmacro %}

{% macro default__type_text() -%}
    {{ return(dbt.type_string()) }}
{%- endmacro %}

{% macro sqlserver__type_text() -%}
    {{ return('nvarchar(4000)') }}
{%- endmacro %}


{#- Unbounded text for XML documents (Demographics, CatalogDescription...). -#}
{% macro type_long_text() -%}
    {{ return(adapter.dispatch('type_long_text', 'medallion')()) }}
{%- endmacro %}

{% macro default__type_long_text() -%}
    {{ return(dbt.type_string()) }}
{%- endmacro %}

{% macro sqlserver__type_long_text() -%}
    {{ return('nvarchar(max)') }}
{%- endmacro %}
