with

territories as (

    select * from {{ ref('brz_sales__sales_territory') }}

),

country_regions as (

    select * from {{ ref('brz_person__country_region') }}

),

final as (

    select
        territories.territory_id,
        territories.territory_name,
        territories.country_region_code,
        country_regions.country_region_name,
        territories.territory_group,
        territories.modified_at,
        territories._loaded_at

    from territories
    left join country_regions
        on territories.country_region_code = country_regions.country_region_code

)

select * from final
