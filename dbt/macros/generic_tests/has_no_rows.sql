{#- The relation is empty; each row is a failure. Used with severity warn on
    quarantine relations: a quarantined row is worth a look, not a stop. -#}
{% test has_no_rows(model) %}

select *
from {{ model }}

{% endtest %}
