{#- A flag column is non-null and holds only true/false (bit 1/0 on SQL Server). -#}
{% test is_boolean(model, column_name) %}

select {{ column_name }}
from {{ model }}
where
    {{ column_name }} is null
    or cast({{ column_name }} as {{ dbt.type_int() }}) not in (0, 1)

{% endtest %}
