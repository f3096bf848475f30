"""Scope tests of the permission pages (see tests/test_url_scope.py)."""

V = "tests.permissions.test_views::"

SCOPE_TESTS = {
    "permissions:overview": [
        V + "test_overview_lists_your_applications_with_what_needs_attention",
        V + "test_overview_for_publisher_support_says_where_to_request_jit",
        V + "test_overview_shows_nothing_of_other_tenants",
    ],
    "permissions:app": [
        V + "test_customer_admin_sees_jit_manual_model_in_plain_words",
        V + "test_reader_sees_the_same_page_with_her_own_smaller_rights",
        V + "test_publisher_support_sees_when_to_request_jit",
        V + "test_app_page_of_another_tenant_is_not_found",
        V + "test_app_page_needs_sign_in",
    ],
    "permissions:offer": [
        V + "test_offer_page_before_install_for_the_customer",
        V + "test_offer_page_for_the_publisher_shows_what_the_plan_exposes",
        V + "test_offer_page_of_an_offer_you_cannot_see_is_not_found",
    ],
    "permissions:changes": [
        V + "test_changes_feed_lists_only_your_tenants_changes",
        V + "test_publisher_sees_changes_of_its_customers_and_can_filter_by_tenant",
        V + "test_changes_search_never_reaches_another_tenants_changes",
    ],
}
