{#- dbt's is_incremental(), except that var('assume_incremental') (true or false) answers
    without asking the warehouse (the T-SQL checks compile both branches of every
    incremental model for SQL Server with no server to ask), and that a snapshot load
    since the model's last batch makes it a rebuild (snapshot_reloaded). -#}
{% macro is_incremental() -%}
    {%- set assumed = var('assume_incremental', none) -%}
    {%- if assumed is not none and execute -%}
        {{ return((assumed | string | lower) in ['true', '1'] and model.config.materialized == 'incremental') }}
    {%- endif -%}
    {{ return(dbt.is_incremental() and not medallion.snapshot_reloaded()) }}
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


{#- dbt's should_full_refresh() (the --full-refresh flag, config full_refresh), and also
    when a snapshot load replaced the raw tables after this incremental model's newest
    batch (snapshot_reloaded). dbt's incremental materializations call it, so such a model
    is rebuilt from the new snapshot, and publish_layer, seeing every row rewritten,
    replaces the published relations whole. -#}
{% macro should_full_refresh() -%}
    {{ return(dbt.should_full_refresh() or medallion.snapshot_reloaded(announce=true)) }}
{%- endmacro %}


{#- True when ops.loads records a snapshot load (kind 'source' or 'synthetic': a full
    export that replaced the raw tables, as `medallion load` writes them) newer than the
    newest _batch_at of this incremental model. A snapshot stamps every raw row with its
    load time, so the incremental path would re-check every row anyway, and it cannot see
    the rows the snapshot no longer has (deleted upstream): a rebuild costs the same and
    drops them. Appended hours (kind 'append') stay incremental. An empty state table holds
    nothing stale, so it stays incremental too. `announce`: log the decision (once, from
    the materialization), so the run says which models it rebuilt and why. -#}
{% macro snapshot_reloaded(announce=false) -%}
    {%- if not execute or var('assume_incremental', none) is not none
        or model.get('config', {}).get('materialized') != 'incremental' -%}
        {{ return(false) }}
    {%- endif -%}
    {%- set loads = adapter.get_relation(database=target.database, schema='ops', identifier='loads') -%}
    {%- set existing = adapter.get_relation(database=this.database, schema=this.schema, identifier=this.identifier) -%}
    {%- if loads is none or existing is none or existing.is_view -%}
        {{ return(false) }}
    {%- endif -%}
    {%- set newest -%}
        select
            (select max(loaded_at) from {{ loads }} where kind in ('source', 'synthetic')) as reloaded_at,
            (select max(_batch_at) from {{ this }}) as last_batch_at
    {%- endset -%}
    {%- set row = run_query(newest).rows[0] -%}
    {%- set reloaded = row[0] is not none and row[1] is not none and row[0] > row[1] -%}
    {%- if reloaded and announce and not model.get('_snapshot_reload_logged') -%}
        {%- do model.update({'_snapshot_reload_logged': true}) -%}
        {{ log(this.identifier ~ ": full refresh, a snapshot load at " ~ row[0]
            ~ " replaced the raw tables after its last batch at " ~ row[1]
            ~ " (rows deleted upstream go too)", info=true) }}
    {%- endif -%}
    {{ return(reloaded) }}
{%- endmacro %}
