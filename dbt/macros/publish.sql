{#- Write-audit-publish. Silver and gold build into their audit schemas (silver_audit,
    gold_audit: var('audit_schemas')), their tests run there, and only then does
    publish_layer make the candidate visible in silver / gold, in ONE transaction:
    consumers see all of a layer's new data or none of it.

    Per published relation (every model of the layer except those with
    meta.publish: false, the internal state tables):
    - incremental, for a model with meta.publish_key and meta.publish_changes_from
      (models whose rows carry _batch_at): delete the keys whose rows were rewritten in
      the audit schema after the last publish's watermark, and insert them again from the
      candidate. Cost tracks the batch, not the history.
    - full (create the published table as a copy of the candidate), when asked
      (full_refresh), on the first publish, when the columns differ, when every row was
      rewritten since the last publish (a full refresh of the audit state), and always for
      the small dimension tables without publish_key (customers, products, territories).
    Every relation published writes one row to <audit schema>.publish_log: mode,
    watermark, rows deleted and inserted. -#}


{#- `dbt run-operation publish_layer --args '{layer: silver}'`: what the DAG's
    publish_<layer> task runs after dbt_test_<layer> passed. -#}
{% macro publish_layer(layer, full_refresh=false) -%}
    {%- if layer not in var('audit_schemas', {}) -%}
        {{ log("publish_layer: " ~ layer ~ " is not published through an audit schema; nothing to do", info=true) }}
        {{ return([]) }}
    {%- endif -%}
    {%- do run_query(medallion.publish_log_ddl(layer)) -%}
    {%- set plan = medallion.publish_plan(layer, full_refresh) -%}
    {%- call statement('publish_' ~ layer, auto_begin=True) -%}
        {{ medallion.publish_transaction(medallion.publish_statements(layer, plan)) }}
    {%- endcall -%}
    {%- do adapter.commit() -%}
    {%- for item in plan -%}
        {{ log("published " ~ item.published ~ " (" ~ item.mode ~ ", watermark " ~ item.watermark ~ ")", info=true) }}
    {%- endfor -%}
    {{ return(plan) }}
{%- endmacro %}


{#- The whole publish script of `layer` with every relation in mode `assume` ('full' or
    'incremental'; dimensions without publish_key are always full), rendered without a
    connection: `dbt compile --inline "{{ medallion.publish_layer_sql('gold', 'incremental') }}"`
    shows what publish_layer runs; the T-SQL checks parse it. -#}
{% macro publish_layer_sql(layer, assume='incremental') -%}
    {{ return(medallion.publish_log_ddl(layer) ~ ';\n' ~ medallion.publish_transaction(
        medallion.publish_statements(layer, medallion.publish_plan(layer, assume=assume)))) }}
{%- endmacro %}


{#- The relations of `layer` to publish, each with its mode and watermark. Asks the
    warehouse (existence, columns, watermarks) unless `assume` gives the mode:
    'full' or 'incremental' renders the SQL without a connection (T-SQL checks). -#}
{% macro publish_plan(layer, full_refresh=false, assume=none) -%}
    {%- set audit_schema = var('audit_schemas')[layer] -%}
    {%- set log_relation = medallion.publish_log_relation(layer) -%}
    {%- set plan = [] -%}
    {%- for node in graph.nodes.values() | sort(attribute='unique_id') -%}
        {%- set meta = node.config.get('meta') or {} -%}
        {%- if node.resource_type == 'model' and layer in node.tags
            and node.config.materialized != 'ephemeral' and meta.get('publish', true) -%}
            {%- set audit = api.Relation.create(database=node.database, schema=node.schema, identifier=node.alias) -%}
            {%- set published = api.Relation.create(database=node.database, schema=node.config.schema, identifier=node.alias) -%}
            {%- set key = meta.get('publish_key') -%}
            {%- set key = [key] if key is string else key -%}
            {%- set changes = [] -%}
            {%- set change_nodes = [] -%}
            {%- for name in meta.get('publish_changes_from') or [] -%}
                {%- set source_node = graph.nodes['model.' ~ node.package_name ~ '.' ~ name] -%}
                {%- do changes.append(api.Relation.create(database=source_node.database, schema=source_node.schema, identifier=source_node.alias)) -%}
                {%- do change_nodes.append(source_node) -%}
            {%- endfor -%}
            {%- set item = {
                'name': node.alias, 'audit': audit, 'published': published, 'key': key,
                'changes': changes, 'change_nodes': change_nodes,
                'log': log_relation, 'mode': 'full', 'watermark': none,
                'previous_watermark': none, 'published_exists': true, 'columns': []} -%}
            {%- if assume is not none -%}
                {%- do item.update({'mode': assume if (key and changes) else 'full',
                                    'columns': node.columns.keys() | list,
                                    'watermark': '2000-01-01 00:00:00.000000',
                                    'previous_watermark': '1999-12-31 00:00:00.000000'}) -%}
            {%- else -%}
                {%- do item.update(medallion.publish_mode(item, full_refresh)) -%}
            {%- endif -%}
            {%- do plan.append(item) -%}
        {%- endif -%}
    {%- endfor -%}
    {{ return(plan) }}
{%- endmacro %}


{#- Mode, watermarks and columns of one relation, from the warehouse. -#}
{% macro publish_mode(item, full_refresh) -%}
    {%- set audit_columns = adapter.get_columns_in_relation(item.audit) | map(attribute='name') | map('lower') | list -%}
    {%- set existing = adapter.get_relation(database=item.published.database, schema=item.published.schema, identifier=item.published.identifier) -%}
    {%- set published_columns = (adapter.get_columns_in_relation(existing) | map(attribute='name') | map('lower') | list) if existing is not none else [] -%}
    {%- set out = {'columns': audit_columns, 'published_exists': existing is not none, 'mode': 'full'} -%}
    {%- if item.key and item.changes -%}
        {%- set batches -%}
            select
                max(_batch_at) as newest_batch_at,
                min(_batch_at) as oldest_batch_at,
                (select max(watermark) from {{ item.log }} where relation_name = '{{ item.name }}') as previous_watermark
            from (
                {%- for change in item.changes %}
                select _batch_at from {{ change }}{% if not loop.last %} union all{% endif %}
                {%- endfor %}
            ) as candidate_batches
        {%- endset -%}
        {%- set row = run_query(batches).rows[0] -%}
        {%- do out.update({'watermark': row[0], 'previous_watermark': row[2]}) -%}
        {%- if not full_refresh and existing is not none and published_columns == audit_columns
            and row[2] is not none and row[1] is not none and row[1] <= row[2] -%}
            {%- do out.update({'mode': 'incremental',
                               'watermark': row[0] if row[0] is not none and row[0] > row[2] else row[2]}) -%}
        {%- endif -%}
    {%- endif -%}
    {{ return(out) }}
{%- endmacro %}


{% macro publish_log_relation(layer) -%}
    {{ return(api.Relation.create(database=target.database, schema=var('audit_schemas')[layer], identifier='publish_log')) }}
{%- endmacro %}


{#- The statements that publish `plan`, in order (run inside one transaction). -#}
{% macro publish_statements(layer, plan) -%}
    {%- set statements = [] -%}
    {%- set schemas = plan | map(attribute='published') | map(attribute='schema') | unique | list -%}
    {%- for schema in schemas -%}
        {%- do statements.append(medallion.publish_create_schema(plan[0].published.database, schema)) -%}
    {%- endfor -%}
    {%- for item in plan -%}
        {%- if item.mode == 'incremental' -%}
            {%- do statements.extend(medallion.publish_increment_sql(item)) -%}
        {%- else -%}
            {%- do statements.extend(medallion.publish_full_sql(item)) -%}
        {%- endif -%}
    {%- endfor -%}
    {{ return(statements) }}
{%- endmacro %}


{#- Rows of `alias` (the candidate or the published relation) whose key was rewritten
    in the audit schema after the previous watermark, up to this one. -#}
{% macro publish_changed_keys(item, alias) -%}
    exists (
        select 1
        from (
            {%- for change in item.changes %}
            {%- set window = '_batch_at > ' ~ medallion.timestamp_literal(item.previous_watermark)
                ~ ' and _batch_at <= ' ~ medallion.timestamp_literal(item.watermark) %}
            {%- set match = medallion.batch_at_from_match(item.change_nodes[loop.index0], none, window) %}
            select {{ item.key | join(', ') }}
            from {{ change }}
            where
                {{ window }}
                {%- if match %}
                and {{ match }}
                {%- endif %}
            {%- if not loop.last %}
            union{% endif %}
            {%- endfor %}
        ) as changed
        where
            {%- for column in item.key %}
            changed.{{ column }} = {{ alias }}.{{ column }}{% if not loop.last %} and{% endif %}
            {%- endfor %}
    )
{%- endmacro %}


{% macro publish_increment_sql(item) -%}
    {%- set columns = item.columns | join(', ') -%}
    {%- set statements = [] -%}
    {%- set log_row -%}
        insert into {{ item.log }} (relation_name, publish_mode, watermark, rows_deleted, rows_inserted, published_at, invocation_id)
        select
            '{{ item.name }}',
            'incremental',
            {{ medallion.timestamp_literal(item.watermark) }},
            (select count(*) from {{ item.published }} as published where {{ medallion.publish_changed_keys(item, 'published') }}),
            (select count(*) from {{ item.audit }} as candidate where {{ medallion.publish_changed_keys(item, 'candidate') }}),
            {{ medallion.utc_now() }},
            '{{ invocation_id }}'
    {%- endset -%}
    {%- do statements.append(log_row) -%}
    {%- do statements.append(medallion.publish_delete_sql(item)) -%}
    {%- set insert -%}
        insert into {{ item.published }} ({{ columns }})
        select {{ columns }}
        from {{ item.audit }} as candidate
        where {{ medallion.publish_changed_keys(item, 'candidate') }}
    {%- endset -%}
    {%- do statements.append(insert) -%}
    {{ return(statements) }}
{%- endmacro %}


{% macro publish_full_sql(item) -%}
    {%- set statements = [] -%}
    {%- set log_row -%}
        insert into {{ item.log }} (relation_name, publish_mode, watermark, rows_deleted, rows_inserted, published_at, invocation_id)
        select
            '{{ item.name }}',
            'full',
            {{ medallion.timestamp_literal(item.watermark) }},
            {% if item.published_exists %}(select count(*) from {{ item.published }}){% else %}0{% endif %},
            (select count(*) from {{ item.audit }}),
            {{ medallion.utc_now() }},
            '{{ invocation_id }}'
    {%- endset -%}
    {%- do statements.append(log_row) -%}
    {%- do statements.extend(medallion.publish_replace_sql(item)) -%}
    {{ return(statements) }}
{%- endmacro %}


{% macro timestamp_literal(value) -%}
    {%- if value is none -%}
        cast(null as {{ dbt.type_timestamp() }})
    {%- else -%}
        cast('{{ value }}' as {{ dbt.type_timestamp() }})
    {%- endif -%}
{%- endmacro %}


{#- ----------------------------------------------------------- adapter-specific -#}

{% macro publish_log_ddl(layer) -%}
    {{ return(adapter.dispatch('publish_log_ddl', 'medallion')(layer)) }}
{%- endmacro %}

{% macro default__publish_log_ddl(layer) -%}
    {%- set relation = medallion.publish_log_relation(layer) -%}
    create schema if not exists {{ relation.schema }};
    create table if not exists {{ relation }} (
        relation_name {{ medallion.type_text() }},
        publish_mode {{ medallion.type_text() }},
        watermark {{ dbt.type_timestamp() }},
        rows_deleted {{ dbt.type_bigint() }},
        rows_inserted {{ dbt.type_bigint() }},
        published_at {{ dbt.type_timestamp() }},
        invocation_id {{ medallion.type_text() }}
    )
{%- endmacro %}

{% macro sqlserver__publish_log_ddl(layer) -%}
    {%- set relation = medallion.publish_log_relation(layer) -%}
    if schema_id(N'{{ relation.schema }}') is null
        exec (N'create schema {{ adapter.quote(relation.schema) }}');
    if object_id(N'{{ relation.schema }}.{{ relation.identifier }}', N'U') is null
        create table {{ relation }} (
            relation_name nvarchar(400),
            publish_mode nvarchar(40),
            watermark datetime2(6),
            rows_deleted bigint,
            rows_inserted bigint,
            published_at datetime2(6),
            invocation_id nvarchar(100)
        );
{%- endmacro %}


{% macro publish_create_schema(database, schema) -%}
    {{ return(adapter.dispatch('publish_create_schema', 'medallion')(database, schema)) }}
{%- endmacro %}

{% macro default__publish_create_schema(database, schema) -%}
    create schema if not exists {{ schema }}
{%- endmacro %}

{% macro sqlserver__publish_create_schema(database, schema) -%}
    if schema_id(N'{{ schema }}') is null exec (N'create schema {{ adapter.quote(schema) }}')
{%- endmacro %}


{% macro publish_delete_sql(item) -%}
    {{ return(adapter.dispatch('publish_delete_sql', 'medallion')(item)) }}
{%- endmacro %}

{% macro default__publish_delete_sql(item) -%}
    delete from {{ item.published }} as published
    where {{ medallion.publish_changed_keys(item, 'published') }}
{%- endmacro %}

{% macro sqlserver__publish_delete_sql(item) -%}
    delete published
    from {{ item.published }} as published
    where {{ medallion.publish_changed_keys(item, 'published') }}
{%- endmacro %}


{#- Replace the published relation by the candidate's rows. -#}
{% macro publish_replace_sql(item) -%}
    {{ return(adapter.dispatch('publish_replace_sql', 'medallion')(item)) }}
{%- endmacro %}

{% macro default__publish_replace_sql(item) -%}
    {%- set statement -%}
        create or replace table {{ item.published }} as
        select {{ item.columns | join(', ') }}
        from {{ item.audit }}
    {%- endset -%}
    {{ return([statement]) }}
{%- endmacro %}

{% macro sqlserver__publish_replace_sql(item) -%}
    {%- set drop -%}
        if object_id(N'{{ item.published.schema }}.{{ item.published.identifier }}', N'U') is not null
            drop table {{ item.published }}
    {%- endset -%}
    {%- set copy -%}
        select {{ item.columns | join(', ') }}
        into {{ item.published }}
        from {{ item.audit }}
    {%- endset -%}
    {{ return([drop, copy]) }}
{%- endmacro %}


{#- All statements as one script that commits or rolls back as a whole. publish_layer
    runs it in dbt's transaction (begun by the statement, then adapter.commit()); on
    DuckDB that transaction is the one (its DDL is transactional too). -#}
{% macro publish_transaction(statements) -%}
    {{ return(adapter.dispatch('publish_transaction', 'medallion')(statements)) }}
{%- endmacro %}

{% macro default__publish_transaction(statements) -%}
    {% for statement in statements -%}
    {{ statement }};
    {% endfor -%}
{%- endmacro %}

{#- T-SQL: an explicit transaction in the batch, so the publish is atomic whether or not
    dbt-sqlserver's own BEGIN/COMMIT are real; xact_abort rolls it all back on any error. -#}
{% macro sqlserver__publish_transaction(statements) -%}
    set xact_abort on;
    begin transaction;
    {% for statement in statements -%}
    {{ statement }};
    {% endfor -%}
    commit transaction;
{%- endmacro %}
