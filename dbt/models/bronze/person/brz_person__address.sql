with

source as (

    select * from {{ source('person', 'Address') }}

),

renamed as (

    select
        cast(AddressID as {{ dbt.type_int() }}) as address_id,
        cast(AddressLine1 as {{ medallion.type_text() }}) as address_line1,
        cast(AddressLine2 as {{ medallion.type_text() }}) as address_line2,
        cast(City as {{ medallion.type_text() }}) as city,
        cast(StateProvinceID as {{ dbt.type_int() }}) as state_province_id,
        cast(PostalCode as {{ medallion.type_text() }}) as postal_code,
        cast(SpatialLocation as {{ medallion.type_text() }}) as spatial_location,
        cast(rowguid as {{ medallion.type_text() }}) as row_guid,
        cast(ModifiedDate as {{ dbt.type_timestamp() }}) as modified_at,
        cast(_loaded_at as {{ dbt.type_timestamp() }}) as _loaded_at,
        cast(_source_file as {{ medallion.type_text() }}) as _source_file

    from source

)

select * from renamed
