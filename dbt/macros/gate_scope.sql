{#- Quality gates scoped to the batch.

    With var('gate_scope') = 'batch' (the DAG's test step on the hourly path) a test checks
    what the new batch can have broken, at a cost that follows the batch:
    - a relation whose rows carry _batch_at (silver orders, order lines, their quarantines
      and *_checks; gold *_state): the rows written since it was last published (since the
      layer's last publish for internal state), i.e. what the next publish copies;
    - a gold contract view (published by the keys its state rewrote): the rows of those keys;
    - bronze views and raw sources (_loaded_at): the rows loaded since silver's last publish,
      less the incremental lookback (what the next silver run reads);
    - anything else (the dimensions rebuilt whole, the contract's column types): all of it.
    Rows that failed a gate are never published, so the watermark does not move and they are
    checked again by every run until they pass. Uniqueness is checked for the batch's keys
    against the whole relation (a key lookup); relationships from the batch's rows to the
    whole parent. With gate_scope 'full' (the default: `dbt build`, a full refresh, the
    periodic and the on-demand full check) every test reads everything. -#}


{#- dbt's get_where_subquery, through which every generic test reads its model, plus the
    batch scope. Tests that compare relations take care of their own scope. -#}
{% macro get_where_subquery(relation) -%}
    {%- set where = config.get('where', '') -%}
    {%- set test = model.get('test_metadata') or {} -%}
    {%- set batch = none -%}
    {%- if test.get('name') not in ('column_types_match', 'row_conservation', 'quarantine_ratio') -%}
        {%- set kwargs = test.get('kwargs') or {} -%}
        {%- if test.get('name') in ('unique', 'unique_combination') -%}
            {%- set key = kwargs.get('columns') or [kwargs.get('column_name')] -%}
            {%- set batch = medallion.keys_in_batch(relation, key, 'scoped') -%}
        {%- else -%}
            {%- set batch = medallion.batch_filter(relation, 'scoped') -%}
        {%- endif -%}
    {%- endif -%}
    {%- set filters = [where, batch] | select | list -%}
    {%- if not filters -%}
        {{ return(relation) }}
    {%- endif -%}
    {{ return('(select * from ' ~ relation ~ ' as scoped where ' ~ filters | join(' and ') ~ ') dbt_subquery') }}
{%- endmacro %}


{#- The SQL condition on `alias` (a row of `relation`) that says it is in the batch, or
    none when the test reads everything. -#}
{% macro batch_filter(relation, alias) -%}
    {%- if not execute or var('gate_scope', 'full') != 'batch' -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set node = medallion.graph_node_for(relation) -%}
    {%- if node is none -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set meta = node.config.get('meta') or {} -%}
    {%- set columns = node.columns.keys() | map('lower') | list -%}
    {%- set layer = medallion.audited_layer(node) -%}
    {%- set published = meta.get('publish_key') and meta.get('publish_changes_from') -%}
    {%- if layer is not none and '_batch_at' in columns -%}
        {#- a row of this relation changed since it was published iff it was rewritten: a
            plain filter the warehouse pushes down, not a join on the changed keys -#}
        {%- set log = medallion.existing_publish_log(layer) -%}
        {%- if log is none -%}
            {{ return(none) }}
        {%- endif -%}
        {%- set since = medallion.watermark_sql(log, node.alias if published else none) -%}
        {{ return([alias ~ '._batch_at > ' ~ since,
                   medallion.batch_at_from_match(node, alias, '_batch_at > ' ~ since)]
                  | select | join(' and ')) }}
    {%- elif layer is not none and published -%}
        {#- the gold contract views: the keys their state rewrote since their last publish -#}
        {%- set log = medallion.existing_publish_log(layer) -%}
        {%- if log is none -%}
            {{ return(none) }}
        {%- endif -%}
        {%- set key = [meta.publish_key] if meta.publish_key is string else meta.publish_key -%}
        {%- set since = medallion.watermark_sql(log, node.alias) -%}
        {%- set changed = [] -%}
        {%- for name in meta.publish_changes_from -%}
            {%- set change = graph.nodes['model.' ~ node.package_name ~ '.' ~ name] -%}
            {%- do changed.append('select ' ~ key | join(', ') ~ ' from '
                ~ api.Relation.create(database=change.database, schema=change.schema, identifier=change.alias)
                ~ ' where _batch_at > ' ~ since) -%}
        {%- endfor -%}
        {{ return(medallion.key_match(changed | join(' union '), key, alias)) }}
    {%- elif layer is none and '_loaded_at' in columns -%}
        {#- raw sources and the bronze views over them: one row per raw row -#}
        {%- set log = medallion.existing_publish_log('silver') -%}
        {{ return(none if log is none else alias ~ '._loaded_at > '
            ~ dbt.dateadd('minute', -medallion.lookback_minutes(), medallion.watermark_sql(log))) }}
    {%- endif -%}
    {{ return(none) }}
{%- endmacro %}


{#- A view whose _batch_at is the latest of its source tables' (meta.batch_at_from: key and
    models; silver's order lines: a line's check and its order's) holds a row of the
    `window` (a condition on _batch_at) only under a key one of those tables wrote in it.
    That key semi-join reads the small batch of stored tables, so the warehouse need not
    join the whole history before filtering the view's computed _batch_at (kept exact by
    the caller). None for any other node. -#}
{% macro batch_at_from_match(node, alias, window) -%}
    {%- set hint = (node.config.get('meta') or {}).get('batch_at_from') -%}
    {%- if not hint -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set batches = [] -%}
    {%- for name in hint.models -%}
        {%- set source_node = graph.nodes['model.' ~ node.package_name ~ '.' ~ name] -%}
        {%- do batches.append('select ' ~ hint.key ~ ' from '
            ~ api.Relation.create(database=source_node.database, schema=source_node.schema, identifier=source_node.alias)
            ~ ' where ' ~ window) -%}
    {%- endfor -%}
    {%- set key = (alias ~ '.' if alias else '') ~ hint.key -%}
    {#- a row without the key (a quarantined line without an order id) cannot be looked up -#}
    {{ return('(' ~ key ~ ' in (' ~ batches | join(' union all ') ~ ') or ' ~ key ~ ' is null)') }}
{%- endmacro %}


{#- For singular tests: the batch condition on `alias`, or an always-true one. -#}
{% macro in_batch(relation, alias) -%}
    {{ return(medallion.batch_filter(relation, alias) or '1 = 1') }}
{%- endmacro %}


{#- For singular tests: `alias`'s `key` is one the batch of `relation` touched, or an
    always-true condition. -#}
{% macro in_batch_keys(relation, key, alias) -%}
    {{ return(medallion.keys_in_batch(relation, key, alias) or '1 = 1') }}
{%- endmacro %}


{#- Rows of `alias` whose `key` some batch row of `relation` has (every row with a key the
    batch touched, old rows included), or none when the test reads everything. -#}
{% macro keys_in_batch(relation, key, alias) -%}
    {%- set batch = medallion.batch_filter(relation, 'batch_row') -%}
    {%- if batch is none -%}
        {{ return(none) }}
    {%- endif -%}
    {{ return(medallion.key_match('select ' ~ key | join(', ') ~ ' from ' ~ relation
        ~ ' as batch_row where ' ~ batch, key, alias)) }}
{%- endmacro %}


{#- `alias`'s key is among the rows of `keys_sql` (a query selecting the key columns). -#}
{% macro key_match(keys_sql, key, alias) -%}
    {%- set matches = [] -%}
    {%- for column in key -%}
        {%- do matches.append('batch_keys.' ~ column ~ ' = ' ~ alias ~ '.' ~ column) -%}
    {%- endfor -%}
    {{ return('exists (select 1 from (' ~ keys_sql ~ ') as batch_keys where ' ~ matches | join(' and ') ~ ')') }}
{%- endmacro %}


{#- The newest publish watermark of the layer whose log is `log` (of one relation when
    `relation_name` is given), as a literal (a constant filter the warehouse pushes into the
    scan of a large table; a subquery would not be); a timestamp before any batch when there
    is none yet. Rendered without a connection (the T-SQL checks), the subquery itself. -#}
{% macro watermark_sql(log, relation_name=none) -%}
    {%- set where = (" where relation_name = '" ~ relation_name ~ "'") if relation_name else '' -%}
    {%- set before_any = medallion.timestamp_literal('1900-01-01 00:00:00.000000') -%}
    {%- if var('assume_incremental', none) is not none -%}
        {{ return('coalesce((select max(watermark) from ' ~ log ~ where ~ '), ' ~ before_any ~ ')') }}
    {%- endif -%}
    {%- set newest = run_query('select max(watermark) from ' ~ log ~ where).rows[0][0] -%}
    {%- if newest is none -%}
        {{ return(before_any) }}
    {%- endif -%}
    {{ return(medallion.timestamp_literal(newest)) }}
{%- endmacro %}


{#- The publish log of `layer`, or none before its first publish (nothing was published,
    so everything is the batch). -#}
{% macro existing_publish_log(layer) -%}
    {%- set log = medallion.publish_log_relation(layer) -%}
    {%- if var('assume_incremental', none) is not none -%}
        {#- rendering without a connection (the T-SQL checks): assume a publish happened -#}
        {{ return(log) }}
    {%- endif -%}
    {{ return(adapter.get_relation(database=log.database, schema=log.schema, identifier=log.identifier)) }}
{%- endmacro %}


{#- The audited layer (silver, gold) a model belongs to, from its tags; none otherwise. -#}
{% macro audited_layer(node) -%}
    {%- for tag in node.tags or [] -%}
        {%- if tag in var('audit_schemas', {}) -%}
            {{ return(tag) }}
        {%- endif -%}
    {%- endfor -%}
    {{ return(none) }}
{%- endmacro %}


{#- The model or source node whose relation is `relation` (a Relation or its rendered
    name; a model is found in either of its schemas: where it is built and where it is
    published), or none. -#}
{% macro graph_node_for(relation) -%}
    {%- set wanted = (relation | string | trim | lower) -%}
    {%- for node in graph.nodes.values() if node.resource_type == 'model' -%}
        {%- for schema in [node.schema, node.config.schema] if schema -%}
            {%- if (api.Relation.create(database=node.database, schema=schema, identifier=node.alias) | string | lower) == wanted -%}
                {{ return(node) }}
            {%- endif -%}
        {%- endfor -%}
    {%- endfor -%}
    {%- for node in graph.sources.values() -%}
        {%- if (node.relation_name | lower) == wanted -%}
            {{ return(node) }}
        {%- endif -%}
    {%- endfor -%}
    {{ return(none) }}
{%- endmacro %}
