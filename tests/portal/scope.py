"""Scope tests of the portal's own URLs (see tests/test_url_scope.py)."""

SCOPE_TESTS = {
    "home": ["tests.test_smoke::test_home_renders_for_anonymous"],
    "healthz": [
        "tests.portal.test_health::test_healthz_reports_ok_when_database_and_broker_answer"
    ],
}
