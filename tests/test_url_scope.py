"""Every URL of the portal must have scope tests: who may use it, and who gets 404 or no data.

When you add a URL pattern, add its name here with the tests that cover its scope.
"""

import importlib

from django.urls import URLPattern, URLResolver, get_resolver

SCOPE_TESTS: dict[str, list[str]] = {
    "home": ["tests.test_smoke::test_home_renders_for_anonymous"],
    "healthz": [
        "tests.portal.test_health::test_healthz_reports_ok_when_database_and_broker_answer"
    ],
    "accounts:profile": [
        "tests.accounts.test_views::test_profile_shows_only_your_own_memberships",
        "tests.accounts.test_views::test_profile_needs_sign_in",
        "tests.accounts.test_views::test_profile_of_a_reader_says_they_change_nothing",
    ],
    "accounts:no_access": [
        "tests.accounts.test_views::test_no_access_page_explains_what_to_ask_for"
    ],
}

# Third-party URL sets with their own access control, tested by their projects.
EXTERNAL_PREFIXES = ("admin/", "auth/")


def _named_patterns(resolver: URLResolver, prefix: str = "", namespace: str = ""):
    for entry in resolver.url_patterns:
        route = prefix + str(entry.pattern)
        if isinstance(entry, URLResolver):
            inner = f"{namespace}{entry.namespace}:" if entry.namespace else namespace
            yield from _named_patterns(entry, route, inner)
        elif isinstance(entry, URLPattern):
            yield route, f"{namespace}{entry.name}" if entry.name else None


def test_every_url_pattern_has_scope_tests():
    missing = []
    for route, name in _named_patterns(get_resolver()):
        if route.startswith(EXTERNAL_PREFIXES):
            continue
        if name not in SCOPE_TESTS:
            missing.append(f"{route} ({name})")
    assert not missing, "URL patterns without scope tests: " + ", ".join(missing)


def test_listed_scope_tests_exist():
    for tests in SCOPE_TESTS.values():
        for reference in tests:
            module_name, _, function = reference.partition("::")
            module = importlib.import_module(module_name)
            assert callable(getattr(module, function, None)), f"{reference} does not exist"
