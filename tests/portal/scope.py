"""Scope tests of the portal's own URLs (see tests/test_url_scope.py)."""

SCOPE_TESTS = {
    "home": ["tests.test_smoke::test_home_renders_for_anonymous"],
    "healthz": ["tests.portal.test_health::test_healthz_reports_ok_and_nothing_else_to_the_public"],
    "readyz": ["tests.portal.test_readyz::test_readyz_is_200_when_everything_answers"],
    "metrics": [
        "tests.portal.test_metrics::test_metrics_are_off_without_a_token",
        "tests.portal.test_metrics::test_a_missing_or_wrong_token_is_refused",
    ],
}
SCOPE_TESTS["marketplace_webhook"] = [
    "tests.deployments.test_webhook::test_a_missing_or_wrong_secret_is_rejected_and_changes_nothing",
    "tests.deployments.test_webhook::test_a_notification_for_a_known_subscription_queues_a_sync_of_that_app",
]
# Under admin/, so test_url_scope skips it; listed anyway for whoever looks here.
SCOPE_TESTS["operations_dashboard"] = [
    "tests.portal.test_operations_dashboard::test_people_who_are_not_staff_are_sent_to_the_admin_sign_in",
    "tests.portal.test_operations_dashboard::test_staff_see_every_section_with_the_numbers_of_the_rows",
]
