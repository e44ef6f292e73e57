with

customer_checks as (

    select * from {{ ref('slv_customer_checks') }}

),

final as (

    select
        customer_id,
        account_number,
        customer_type,
        customer_name,
        person_id,
        first_name,
        last_name,
        store_id,
        store_name,
        territory_id,
        modified_at,
        _loaded_at,
        quarantine_reasons,
        _batch_at as quarantined_at,
        _batch_at

    from customer_checks
    where quarantine_reasons <> ''

)

select * from final
