{#- dbt's is_incremental(), except that var('assume_incremental') (true or false) answers
    without asking the warehouse. The T-SQL checks compile both branches of every
    incremental model for SQL Server with no server to ask. -#}
{% macro is_incremental() -%}
    {%- set assumed = var('assume_incremental', none) -%}
    {%- if assumed is not none and execute -%}
        {{ return((assumed | string | lower) in ['true', '1'] and model.config.materialized == 'incremental') }}
    {%- endif -%}
    {{ return(dbt.is_incremental()) }}
{%- endmacro %}


{#- The batch stamp of this dbt invocation: when it started (UTC). Every row an
    incremental model (re)writes carries it as _batch_at; the next run reads what changed
    after it, and publish_layer copies the rows stamped after its last watermark. -#}
{% macro batch_at() -%}
    cast('{{ run_started_at.strftime("%Y-%m-%d %H:%M:%S.%f") }}' as {{ dbt.type_timestamp() }})
{%- endmacro %}


{#- How far back (minutes) an incremental run looks before its last batch: rows whose
    _loaded_at is earlier than the last batch by less than this are read again (a load
    stamped before a run started but committed after it, clocks of the loader and the
    workers that differ). Re-reading is harmless: rows are replaced by key, but costs a
    re-check of everything loaded in the window. On DuckDB a load and a dbt invocation
    cannot overlap (one writer holds the file; same clock), so 0 is exact and the default
    there. MEDALLION_INCREMENTAL_LOOKBACK_MINUTES, default 15 (0 on DuckDB). -#}
{% macro lookback_minutes() -%}
    {%- set default = '0' if target.type == 'duckdb' else '15' -%}
    {{ return(env_var('MEDALLION_INCREMENTAL_LOOKBACK_MINUTES', default) | int) }}
{%- endmacro %}
