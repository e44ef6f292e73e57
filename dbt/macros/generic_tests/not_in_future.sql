{#- No value of a timestamp column lies after the current UTC time. -#}
{% test not_in_future(model, column_name) %}

select {{ column_name }}
from {{ model }}
where {{ column_name }} > {{ medallion.utc_now() }}

{% endtest %}
