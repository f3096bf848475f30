"""Scope tests of the deployments URLs (see tests/test_url_scope.py)."""

V = "tests.deployments.test_views::"

SCOPE_TESTS = {
    "deployments:my_apps": [
        V + "test_my_apps_shows_only_your_tenants_apps",
        V + "test_my_apps_needs_sign_in",
        V + "test_my_apps_is_not_found_for_people_without_a_customer_tenant",
        V + "test_reader_sees_apps_and_may_refresh_because_refresh_only_rereads_azure",
    ],
    "deployments:app_detail": [
        V + "test_app_detail_of_another_tenant_is_not_found",
        V + "test_app_detail_needs_sign_in",
        V + "test_reader_sees_the_app_page_and_can_change_nothing_but_refresh",
        V + "test_publisher_cannot_open_an_app_of_another_publishers_offer",
    ],
    "deployments:customers": [
        V + "test_customers_of_another_publishers_offers_stay_hidden",
        V + "test_customers_is_not_found_for_customer_side_people",
        V + "test_customers_needs_sign_in",
    ],
    "deployments:customer_detail": [
        V + "test_customer_detail_is_not_found_for_customers_and_for_tenants_outside_your_offers",
        V + "test_customer_detail_needs_sign_in",
    ],
    "deployments:fleet": [
        V + "test_fleet_is_not_found_for_customers",
        V + "test_fleet_needs_sign_in",
    ],
    "deployments:catalog": [
        V + "test_catalog_shows_marketplace_offers_before_install_but_not_private_definitions",
        V + "test_catalog_shows_a_publisher_all_its_offers",
        V + "test_catalog_needs_sign_in",
    ],
    "deployments:offer_detail": [
        V + "test_offer_detail_of_an_offer_you_cannot_see_is_not_found",
        V + "test_offer_detail_says_what_each_side_may_do",
        V + "test_offer_detail_needs_sign_in",
    ],
    "deployments:refresh": [
        V + "test_refresh_of_another_tenant_is_not_found_and_queues_nothing",
        V + "test_reader_may_refresh_because_it_only_rereads_azure",
        V + "test_refresh_takes_post_only_with_a_csrf_token",
        V + "test_refresh_needs_sign_in",
    ],
    "deployments:sync_status": [
        V + "test_sync_status_of_another_tenant_is_not_found",
        V + "test_sync_status_needs_sign_in",
    ],
}
