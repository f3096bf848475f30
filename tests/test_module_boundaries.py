"""The import rules of docs/architecture.md's layout table, checked on the source.

Reads every module's imports (top level and inside functions) with `ast`, so a rule broken in a
lazily imported helper fails too.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PROJECT = (
    "portal",
    "azure_gateway",
    "accounts",
    "deployments",
    "jit",
    "emulator",
    "tests",
    "bench",
)


def imports_of(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def modules_of(package: str, *, excluding: tuple[str, ...] = ()) -> list[Path]:
    paths = sorted((ROOT / package).rglob("*.py"))
    return [p for p in paths if "migrations" not in p.parts and p.name not in excluding]


def crossings(paths: list[Path], forbidden: tuple[str, ...]) -> list[str]:
    return [
        f"{path.relative_to(ROOT)} imports {name}"
        for path in paths
        for name in sorted(imports_of(path))
        if name.split(".")[0] in forbidden or name in forbidden
    ]


RULES = [
    ("emulator", (), (*PROJECT[:5], "tests", "bench", "django", "celery")),
    ("azure_gateway", (), ("accounts", "deployments", "jit", "emulator")),
    ("accounts", (), ("jit", "emulator")),
    # The mirror never needs JIT; only the pages show request counts beside applications.
    ("deployments", ("views.py", "selectors.py"), ("jit", "emulator")),
    ("jit", (), ("emulator",)),
]


@pytest.mark.parametrize(("package", "excluding", "forbidden"), RULES, ids=[r[0] for r in RULES])
def test_package_imports_only_what_the_layout_allows(
    package: str, excluding: tuple[str, ...], forbidden: tuple[str, ...]
) -> None:
    paths = modules_of(package, excluding=excluding)
    assert paths, f"no modules found under {package}/"
    assert crossings(paths, forbidden) == []


def test_only_the_gateway_imports_the_azure_sdk() -> None:
    product = [
        p for package in PROJECT[:5] if package != "azure_gateway" for p in modules_of(package)
    ]
    assert crossings(product, ("azure",)) == []
    assert crossings(modules_of("azure_gateway"), ("azure",)), "the gateway itself must use the SDK"


def test_an_import_inside_a_function_counts(tmp_path: Path) -> None:
    module = tmp_path / "lazy.py"
    module.write_text("import os\n\ndef f():\n    from jit.models import JitRequest\n")
    assert imports_of(module) == {"os", "jit.models"}
