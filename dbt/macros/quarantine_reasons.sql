{#- The rules a row breaks, as one text value: the names of the rules whose
    condition is true, joined by ';' in the order given ('' when none).
    `rules` is a list of [rule_name, sql_condition] pairs. concat_ws skips nulls
    in both DuckDB and SQL Server (2017+), so no dispatch is needed. -#}
{% macro quarantine_reasons(rules) -%}
    {%- if rules | length < 2 -%}
        {{ exceptions.raise_compiler_error(
            "quarantine_reasons needs at least two rules (T-SQL concat_ws takes 3+ arguments)") }}
    {%- endif -%}
    cast(concat_ws(
        ';',
        {%- for rule in rules %}
        case when {{ rule[1] }} then '{{ rule[0] }}' end{{ "," if not loop.last }}
        {%- endfor %}
    ) as {{ medallion.type_text() }})
{%- endmacro %}
