{#- The current UTC time as a timestamp without time zone, comparable with the
    warehouse's naive timestamps (the loader writes UTC). dbt.current_timestamp()
    is local time on DuckDB and a timestamptz, so it is not used for rules. -#}
{% macro utc_now() -%}
    {{ return(adapter.dispatch('utc_now', 'medallion')()) }}
{%- endmacro %}

{% macro default__utc_now() -%}
    cast({{ dbt.current_timestamp() }} as {{ dbt.type_timestamp() }})
{%- endmacro %}

{% macro duckdb__utc_now() -%}
    cast(timezone('UTC', now()) as timestamp)
{%- endmacro %}

{% macro sqlserver__utc_now() -%}
    cast(sysutcdatetime() as datetime2(6))
{%- endmacro %}
