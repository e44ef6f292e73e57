with

source as (

    select * from {{ source('person', 'Person') }}

),

renamed as (

    select
        cast(BusinessEntityID as {{ dbt.type_int() }}) as person_id,
        cast(PersonType as {{ medallion.type_text() }}) as person_type,
        cast(NameStyle as {{ dbt.type_boolean() }}) as is_eastern_name_order,
        cast(Title as {{ medallion.type_text() }}) as title,
        cast(FirstName as {{ medallion.type_text() }}) as first_name,
        cast(MiddleName as {{ medallion.type_text() }}) as middle_name,
        cast(LastName as {{ medallion.type_text() }}) as last_name,
        cast(Suffix as {{ medallion.type_text() }}) as suffix,
        cast(EmailPromotion as {{ dbt.type_int() }}) as email_promotion,
        cast(AdditionalContactInfo as {{ medallion.type_long_text() }}) as additional_contact_info,
        cast(Demographics as {{ medallion.type_long_text() }}) as demographics,
        cast(rowguid as {{ medallion.type_text() }}) as row_guid,
        cast(ModifiedDate as {{ dbt.type_timestamp() }}) as modified_at,
        cast(_loaded_at as {{ dbt.type_timestamp() }}) as _loaded_at,
        cast(_source_file as {{ medallion.type_text() }}) as _source_file

    from source

)

select * from renamed
