"""Every URL of the portal must have scope tests: who may use it, and who gets 404 or no data.

Each app lists its URL names and the tests covering their scope in `tests/<app>/scope.py`
(a dict `SCOPE_TESTS`). When you add a URL pattern, add it there.
"""

import importlib
from collections.abc import Iterator

from django.urls import URLPattern, URLResolver, get_resolver

APPS_WITH_URLS = ("portal", "accounts", "deployments", "jit", "permissions")

# Third-party URL sets with their own access control, tested by their projects.
EXTERNAL_PREFIXES = ("admin/", "auth/")


def _scope_tests() -> dict[str, list[str]]:
    merged: dict[str, list[str]] = {}
    for app in APPS_WITH_URLS:
        try:
            module = importlib.import_module(f"tests.{app}.scope")
        except ModuleNotFoundError:
            continue
        merged.update(module.SCOPE_TESTS)
    return merged


def _named_patterns(
    resolver: URLResolver, prefix: str = "", namespace: str = ""
) -> Iterator[tuple[str, str | None]]:
    for entry in resolver.url_patterns:
        route = prefix + str(entry.pattern)
        if isinstance(entry, URLResolver):
            inner = f"{namespace}{entry.namespace}:" if entry.namespace else namespace
            yield from _named_patterns(entry, route, inner)
        elif isinstance(entry, URLPattern):
            yield route, f"{namespace}{entry.name}" if entry.name else None


def test_every_url_pattern_has_scope_tests() -> None:
    covered = _scope_tests()
    missing = [
        f"{route} ({name})"
        for route, name in _named_patterns(get_resolver())
        if not route.startswith(EXTERNAL_PREFIXES) and name not in covered
    ]
    assert not missing, "URL patterns without scope tests: " + ", ".join(missing)


def test_listed_scope_tests_exist() -> None:
    for tests in _scope_tests().values():
        assert tests, "each URL needs at least one scope test"
        for reference in tests:
            module_name, _, function = reference.partition("::")
            module = importlib.import_module(module_name)
            assert callable(getattr(module, function, None)), f"{reference} does not exist"
