with

source as (

    select * from {{ source('person', 'StateProvince') }}

),

renamed as (

    select
        cast(StateProvinceID as {{ dbt.type_int() }}) as state_province_id,
        cast(StateProvinceCode as {{ medallion.type_text() }}) as state_province_code,
        cast(CountryRegionCode as {{ medallion.type_text() }}) as country_region_code,
        cast(IsOnlyStateProvinceFlag as {{ dbt.type_boolean() }}) as is_only_state_province,
        cast(Name as {{ medallion.type_text() }}) as state_province_name,
        cast(TerritoryID as {{ dbt.type_int() }}) as territory_id,
        cast(rowguid as {{ medallion.type_text() }}) as row_guid,
        cast(ModifiedDate as {{ dbt.type_timestamp() }}) as modified_at,
        cast(_loaded_at as {{ dbt.type_timestamp() }}) as _loaded_at,
        cast(_source_file as {{ medallion.type_text() }}) as _source_file

    from source

)

select * from renamed
