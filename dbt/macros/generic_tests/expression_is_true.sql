{#- Every row satisfies a boolean SQL expression; rows where it is false fail.
    Write the expression in SQL both dialects parse (no boolean literals). -#}
{% test expression_is_true(model, expression) %}

select *
from {{ model }}
where not ({{ expression }})

{% endtest %}
