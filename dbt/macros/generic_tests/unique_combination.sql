{#- The combination of `columns` is unique: a fact table's grain. -#}
{% test unique_combination(model, columns) %}

select
    {{ columns | join(',\n    ') }},
    count(*) as n_records
from {{ model }}
group by {{ columns | join(', ') }}
having count(*) > 1

{% endtest %}
