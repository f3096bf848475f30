"""The production files (Dockerfile, compose.yaml, Procfile, deploy/systemd/, gunicorn.conf.py)
run only commands that exist, set only variables the portal reads, and start exactly one beat.

Each command is parsed by the program that will run it: manage.py commands by Django's own
parser, Celery's by Celery's command line, gunicorn's by gunicorn's, whose configuration file is
loaded and validated setting by setting as gunicorn does.
"""

from __future__ import annotations

import ast
import fnmatch
import json
import os
import runpy
import shlex
import subprocess
import sys
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from importlib.util import find_spec
from pathlib import Path
from typing import Any

import click
import pytest
import yaml
from celery import Celery
from celery.app.utils import find_app
from celery.bin.base import CLIContext
from celery.bin.celery import celery as celery_command
from django.conf import settings
from django.core.management import get_commands, load_command_class
from django.core.management.base import CommandError
from gunicorn.config import Config as GunicornConfig
from gunicorn.errors import AppImportError
from gunicorn.util import import_app

import portal.env

ROOT = Path(settings.BASE_DIR)
SYSTEMD = ROOT / "deploy" / "systemd"
PORTAL_IMAGE = "managed-apps-portal:latest"
# The operating system's programs, and uv (its one command is checked in the Dockerfile's test).
OTHER_PROGRAMS = {"groupadd", "useradd", "chown", "kill", "uv", "apt-get", "rm"}
# Variables read by something other than the portal's settings, each for a reason.
OTHER_VARIABLES = {
    "PATH": "where the shell finds the environment's programs",
    "PYTHONUNBUFFERED": "Python's own: log lines reach the container's output at once",
}


# --- What the portal reads ----------------------------------------------------------------------


def variables_read_by(path: Path) -> set[str]:
    """Names passed to portal/env.py's readers (env_str, env_secret...), with each secret's
    _FILE variant, and to os.environ.get."""
    readers = {name for name in vars(portal.env) if name.startswith("env_")}
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if not isinstance(node, ast.Call) or not node.args:
            continue
        first = node.args[0]
        if not (isinstance(first, ast.Constant) and isinstance(first.value, str)):
            continue
        function = node.func
        if isinstance(function, ast.Name) and function.id in readers:
            names.add(first.value)
            if function.id == "env_secret":
                names.add(f"{first.value}_FILE")
        elif isinstance(function, ast.Attribute) and ast.unparse(function) == "os.environ.get":
            names.add(first.value)
    return names


def known_variables() -> set[str]:
    read = set()
    for path in ("portal/settings.py", "gunicorn.conf.py", "deploy/healthcheck.py"):
        read |= variables_read_by(ROOT / path)
    return read | set(OTHER_VARIABLES)


# --- Commands -------------------------------------------------------------------------------------


@dataclass
class Command:
    where: str
    argv: list[str]
    sets: set[str] = field(default_factory=set)  # NAME=value prefixes of a shell command


def shell_commands(where: str, line: str) -> Iterator[Command]:
    """A shell line's commands (split on &&), without their NAME=value prefixes."""
    for part in line.split("&&"):
        words = shlex.split(part)
        prefixes = set()
        while words and "=" in words[0] and words[0].split("=", 1)[0].isidentifier():
            prefixes.add(words.pop(0).split("=", 1)[0])
        if words:
            yield Command(where, words, prefixes)


def celery_parts(args: list[str]) -> tuple[str, click.Context]:
    """Celery's command line parsed by Celery: the subcommand's name and its parsed context."""
    top = celery_command.make_context("celery", list(args))
    app = find_app(top.params["app"])
    assert isinstance(app, Celery), f"--app {top.params['app']} is not a Celery app"
    top.obj = CLIContext(app=app, no_color=True, workdir=None, quiet=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # click 8.2's protected_args
        rest = [*top.protected_args, *top.args]
    name, subcommand, sub_args = celery_command.resolve_command(top, rest)
    assert name is not None and subcommand is not None
    return name, subcommand.make_context(name, sub_args, parent=top)


def gunicorn_problems(args: list[str]) -> list[str]:
    parsed = GunicornConfig().parser().parse_args(args)
    if not parsed.config:
        return ["gunicorn runs without --config gunicorn.conf.py"]
    path = ROOT / parsed.config
    if not path.is_file():
        return [f"gunicorn's configuration {parsed.config} does not exist"]
    # Load and check every setting as gunicorn does: unknown names would be ignored silently.
    namespace = runpy.run_path(str(path))
    config = GunicornConfig()
    problems = []
    for name in assigned_names(path):
        if name not in config.settings:
            problems.append(f"{parsed.config} sets {name}, which is not a gunicorn setting")
        else:
            config.set(name, namespace[name])
    uri = parsed.args[0] if parsed.args else config.wsgi_app
    if not uri:
        problems.append("gunicorn is given no WSGI application")
    elif not callable(import_app(uri)):
        problems.append(f"{uri} is not a WSGI application")
    return problems


def assigned_names(path: Path) -> list[str]:
    tree = ast.parse(path.read_text())
    return [
        target.id
        for node in ast.walk(tree)
        if isinstance(node, ast.Assign)
        for target in node.targets
        if isinstance(target, ast.Name)
    ]


def python_problems(args: list[str]) -> list[str]:
    if args[:1] == ["manage.py"]:
        name, options = args[1], args[2:]
        commands = get_commands()
        if name not in commands:
            return [f"manage.py has no command {name!r}"]
        parser = load_command_class(commands[name], name).create_parser("manage.py", name)
        try:
            parser.parse_args(options)
        except CommandError as exc:
            return [f"manage.py {name}: {exc}"]
        return []
    if args[:1] == ["-m"]:
        if args[1] == "celery":
            return program_problems(["celery", *args[2:]])
        return [] if find_spec(args[1]) else [f"no module {args[1]}"]
    return [] if (ROOT / args[0]).is_file() else [f"no script {args[0]}"]


def program_problems(argv: list[str]) -> list[str]:
    """What is wrong with running argv from the project's directory, or nothing."""
    program = Path(argv[0]).name
    try:
        if program in ("python", "python3"):
            return python_problems(argv[1:])
        if program == "celery":
            celery_parts(argv[1:])
            return []
        if program == "gunicorn":
            return gunicorn_problems(argv[1:])
    except (click.UsageError, SystemExit, ImportError, AppImportError, AssertionError) as exc:
        return [f"{' '.join(argv)}: {type(exc).__name__}: {exc}"]
    if program in OTHER_PROGRAMS:
        return []
    return [f"unknown program {argv[0]}"]


def runs_beat(argv: list[str]) -> bool:
    """Celery beat, on its own or embedded in a worker (-B)."""
    args = argv[1:]
    if Path(argv[0]).name in ("python", "python3") and args[:2] == ["-m", "celery"]:
        args = args[2:]
    elif Path(argv[0]).name != "celery":
        return False
    name, context = celery_parts(args)
    return name == "beat" or (name == "worker" and bool(context.params.get("beat")))


# --- The files ------------------------------------------------------------------------------------


@dataclass
class Instruction:
    stage: str
    keyword: str
    arguments: str


def dockerfile() -> list[Instruction]:
    """The Dockerfile's instructions, continuation lines joined, with the stage of each."""
    lines: list[str] = []
    current = ""
    for raw in (ROOT / "Dockerfile").read_text().splitlines():
        line = raw.strip()
        if not current and (not line or line.startswith("#")):
            continue
        if line.endswith("\\"):
            current += line[:-1] + " "
            continue
        lines.append(current + line)
        current = ""
    instructions = []
    stage = ""
    for line in lines:
        keyword, _, arguments = line.partition(" ")
        if keyword.upper() == "FROM":
            stage = arguments.split()[-1]
        instructions.append(Instruction(stage, keyword.upper(), arguments.strip()))
    return instructions


def exec_form(arguments: str) -> list[str]:
    argv = json.loads(arguments)
    assert isinstance(argv, list), f"{arguments} is not in exec form"
    return [str(word) for word in argv]


def image_command() -> list[str]:
    return exec_form([i for i in dockerfile() if i.keyword == "CMD"][-1].arguments)


def dockerfile_commands() -> Iterator[Command]:
    for instruction in dockerfile():
        where = f"Dockerfile {instruction.keyword} ({instruction.stage})"
        if instruction.keyword == "RUN":
            yield from shell_commands(where, instruction.arguments)
        elif instruction.keyword == "CMD":
            yield Command(where, exec_form(instruction.arguments))
        elif instruction.keyword == "HEALTHCHECK":
            yield Command(where, exec_form(instruction.arguments.split(" CMD ", 1)[1]))


def dockerfile_variables() -> Iterator[tuple[str, str]]:
    for instruction in dockerfile():
        if instruction.keyword == "ENV":
            for word in shlex.split(instruction.arguments):
                yield f"Dockerfile ENV ({instruction.stage})", word.split("=", 1)[0]
    for command in dockerfile_commands():
        for name in command.sets:
            yield command.where, name


def compose() -> dict[str, Any]:
    loaded = yaml.safe_load((ROOT / "compose.yaml").read_text())
    assert isinstance(loaded, dict)
    return loaded


def portal_services() -> dict[str, dict[str, Any]]:
    """The services that run the portal's image (the others run PostgreSQL and Redis)."""
    return {
        name: service
        for name, service in compose()["services"].items()
        if "build" in service or service.get("image") == PORTAL_IMAGE
    }


def compose_commands() -> Iterator[Command]:
    for name, service in portal_services().items():
        yield Command(f"compose.yaml {name}", service.get("command") or image_command())
        test = service.get("healthcheck", {}).get("test")
        if test and test[0] == "CMD":
            yield Command(f"compose.yaml {name} healthcheck", test[1:])
        elif test and test[0] == "CMD-SHELL":
            # $$ is compose's escape for a $ left to the container's shell.
            line = test[1].replace("$$", "$")
            yield from shell_commands(f"compose.yaml {name} healthcheck", line)


def procfile() -> dict[str, list[str]]:
    processes = {}
    for line in (ROOT / "Procfile").read_text().splitlines():
        name, _, command = line.partition(":")
        processes[name.strip()] = shlex.split(command)
    return processes


@dataclass
class Unit:
    name: str
    entries: list[tuple[str, str, str]]  # (section, key, value); keys repeat (ExecStart...)

    def values(self, key: str) -> list[str]:
        return [value for _, k, value in self.entries if k == key]


def systemd_units() -> list[Unit]:
    units = []
    for path in sorted(SYSTEMD.glob("*.service")) + sorted(SYSTEMD.glob("*.target")):
        section = ""
        entries = []
        for raw in path.read_text().splitlines():
            line = raw.strip()
            if not line or line.startswith(("#", ";")):
                continue
            if line.startswith("["):
                section = line.strip("[]")
                continue
            key, _, value = line.partition("=")
            entries.append((section, key.strip(), value.strip()))
        units.append(Unit(path.name, entries))
    return units


def unit_command(unit: Unit, line: str) -> Command:
    # A leading "-" (failure ignored) or "@" would change systemd's handling; none is used.
    argv = shlex.split(line)
    working_directory = unit.values("WorkingDirectory")[0]
    return Command(unit.name, [str(Path(argv[0]).relative_to(working_directory)), *argv[1:]])


def systemd_commands() -> Iterator[Command]:
    for unit in systemd_units():
        for key in ("ExecStart", "ExecStartPre", "ExecReload"):
            for line in unit.values(key):
                if line.startswith("/bin/"):
                    yield Command(unit.name, shlex.split(line))
                else:
                    yield unit_command(unit, line)


def environment_file_variables(path: Path) -> list[str]:
    return [
        line.split("=", 1)[0]
        for line in path.read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]


def all_commands() -> list[Command]:
    procfile_commands = [Command(f"Procfile {n}", argv) for n, argv in procfile().items()]
    return [
        *dockerfile_commands(),
        *compose_commands(),
        *procfile_commands,
        *systemd_commands(),
    ]


# --- The tests ------------------------------------------------------------------------------------


def test_every_command_exists_with_the_options_given() -> None:
    commands = all_commands()
    assert len(commands) > 15
    problems = [f"{c.where}: {p}" for c in commands for p in program_problems(c.argv)]
    assert problems == []


def test_the_checks_catch_what_they_are_for() -> None:
    assert program_problems(["python", "manage.py", "migrat", "--noinput"])
    assert program_problems(["python", "manage.py", "migrate", "--no-such-option"])
    assert program_problems(["celery", "--app", "portal", "worker", "--no-such-option"])
    assert program_problems(["celery", "--app", "no_such_module", "worker"])
    assert program_problems(["gunicorn", "--config", "no-such.conf.py"])
    assert program_problems(["gunicorn", "--config", "gunicorn.conf.py", "portal.wsgi:nothing"])
    assert program_problems(["python", "deploy/no-such-script.py"])
    assert program_problems(["sh", "-c", "anything"])
    assert runs_beat(["celery", "--app", "portal", "worker", "-B"])
    assert not runs_beat(["celery", "--app", "portal", "worker"])
    assert "DATABASE_URL_FILE" in known_variables()
    assert "DATABSE_URL" not in known_variables()


def test_the_variables_read_are_found() -> None:
    # Guards the scan itself: if it found nothing, every variable below would look unknown.
    read = variables_read_by(ROOT / "portal" / "settings.py")
    assert {"SECRET_KEY", "SECRET_KEY_FILE", "PRODUCTION", "BEHIND_TLS_PROXY"} <= read
    assert {"WEB_BIND", "WEB_CONCURRENCY", "FORWARDED_ALLOW_IPS"} <= variables_read_by(
        ROOT / "gunicorn.conf.py"
    )


def test_every_variable_set_is_read_by_the_portal() -> None:
    known = known_variables()
    set_by = list(dockerfile_variables())
    for name, service in portal_services().items():
        set_by += [(f"compose.yaml {name}", variable) for variable in service["environment"]]
    for unit in systemd_units():
        for value in unit.values("Environment"):
            set_by += [(unit.name, word.split("=", 1)[0]) for word in shlex.split(value)]
    example = SYSTEMD / "portal.env.example"
    set_by += [(example.name, name) for name in environment_file_variables(example)]
    assert len(set_by) > 30
    assert [(where, name) for where, name in set_by if name not in known] == []


def test_exactly_one_beat_everywhere() -> None:
    beats = [name for name, s in portal_services().items() if runs_beat(s.get("command") or [])]
    assert beats == ["beat"]
    beat = compose()["services"]["beat"]
    assert beat.get("deploy", {}).get("replicas", 1) == 1 and "scale" not in beat
    assert [name for name, argv in procfile().items() if runs_beat(argv)] == ["beat"]
    beat_units = [c.where for c in systemd_commands() if runs_beat(c.argv)]
    assert beat_units == ["portal-beat.service"]  # and no template (portal-beat@.service)


def project_packages_imported_by(packages: set[str]) -> set[str]:
    """The project's own top-level packages that the given packages' modules import."""
    own = {p.parent.name for p in ROOT.glob("*/__init__.py")}
    found: set[str] = set()
    for package in packages:
        for path in (ROOT / package).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text())):
                names = []
                if isinstance(node, ast.Import):
                    names = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                    names = [node.module]
                found |= {name.split(".")[0] for name in names} & own
    return found


def test_the_dockerfile_installs_the_locked_environment_and_copies_what_runs() -> None:
    instructions = dockerfile()
    syncs = [c.argv for c in dockerfile_commands() if c.argv[:2] == ["uv", "sync"]]
    assert len(syncs) == 1 and {"--locked", "--no-dev"} <= set(syncs[0])
    runtime = [i for i in instructions if i.stage == "runtime"]
    assert not any("uv" in i.arguments.split() for i in runtime if i.keyword == "RUN")
    users = [i.arguments for i in runtime if i.keyword == "USER"]
    assert users and users[-1].split(":")[0] not in ("0", "root")
    ignored = [p for p in (ROOT / ".dockerignore").read_text().splitlines() if p.strip()]
    copied = []
    for instruction in instructions:
        if instruction.keyword != "COPY" or "--from=" in instruction.arguments:
            continue
        sources = shlex.split(instruction.arguments)[:-1]
        for source in sources:
            source = source.rstrip("/")
            assert (ROOT / source).exists(), f"COPY {source}: no such file"
            assert not any(
                fnmatch.fnmatch(source, p) or source.startswith(p + "/") for p in ignored
            ), f"COPY {source}: excluded by .dockerignore"
            copied.append(source)
    # What the processes need: the apps, the templates, pyproject.toml (the settings read the
    # version there), and every file a command names.
    local_apps = {app.split(".")[0] for app in settings.INSTALLED_APPS if (ROOT / app).is_dir()}
    needed = local_apps | {"templates", "static", "pyproject.toml", "uv.lock", "manage.py"}
    needed |= project_packages_imported_by(local_apps)
    for command in [*dockerfile_commands(), *compose_commands()]:
        needed |= {word for word in command.argv if word.endswith(".py")}
    assert needed - set(copied) == set()


def test_every_systemd_service_runs_after_migrations_as_the_portal_user() -> None:
    services = [u for u in systemd_units() if u.name.endswith(".service")]
    assert {u.name for u in services} == {
        "portal-migrate.service",
        "portal-web.service",
        "portal-worker.service",
        "portal-beat.service",
    }
    for unit in services:
        assert unit.values("User") == ["portal"]
        assert unit.values("EnvironmentFile") == ["/etc/managed-apps-portal/portal.env"]
        assert unit.values("PartOf") == ["portal.target"]
        if unit.name != "portal-migrate.service":
            assert unit.values("Requires") == ["portal-migrate.service"]
            assert "portal-migrate.service" in unit.values("After")[0].split()
    migrate = next(u for u in services if u.name == "portal-migrate.service")
    assert migrate.values("Type") == ["oneshot"]


def test_compose_runs_migrations_once_before_the_portal_starts() -> None:
    services = portal_services()
    migrate = services["migrate"]
    assert migrate["restart"] == "no"
    assert program_problems(migrate["command"]) == []
    assert migrate["command"][1:3] == ["manage.py", "migrate"]
    for name, service in services.items():
        if name != "migrate":
            condition = service["depends_on"]["migrate"]["condition"]
            assert condition == "service_completed_successfully", name
    # Secret files live in ./secrets/, which neither git nor the image build picks up.
    assert all(s["file"].startswith("./secrets/") for s in compose()["secrets"].values())
    assert "secrets" in (ROOT / ".dockerignore").read_text().split()
    assert "/secrets/" in (ROOT / ".gitignore").read_text().split()


# --- Run for real -----------------------------------------------------------------------------------


def run_portal(
    argv: list[str], tmp_path: Path, **environment: str
) -> subprocess.CompletedProcess[str]:
    """argv from the project's directory with PRODUCTION on and nothing else from this
    environment (the test's own settings stay out of it)."""
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(tmp_path),
        "PRODUCTION": "true",
        "SECRET_KEY": "production-files-test-key-0123456789-abcdefghijklmnopqrstuvwxyz",
        "VAR_DIR": str(tmp_path / "var"),
        **environment,
    }
    return subprocess.run(
        argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False
    )


def test_collectstatic_works_with_production_on(tmp_path: Path) -> None:
    result = run_portal([sys.executable, "manage.py", "collectstatic", "--noinput"], tmp_path)
    assert result.returncode == 0, result.stderr
    manifest = json.loads((tmp_path / "var" / "staticfiles" / "staticfiles.json").read_text())
    assert "portal/portal.css" in manifest["paths"]


def test_gunicorn_loads_its_configuration_and_the_application(tmp_path: Path) -> None:
    gunicorn = str(Path(sys.executable).parent / "gunicorn")
    result = run_portal([gunicorn, "--config", "gunicorn.conf.py", "--check-config"], tmp_path)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(
    ("behind_proxy", "trusted"), [("true", "['*']"), ("false", "[]")], ids=["proxy", "no-proxy"]
)
def test_gunicorn_trusts_forwarded_headers_only_behind_the_tls_proxy(
    tmp_path: Path, behind_proxy: str, trusted: str
) -> None:
    gunicorn = str(Path(sys.executable).parent / "gunicorn")
    result = run_portal(
        [gunicorn, "--config", "gunicorn.conf.py", "--print-config"],
        tmp_path,
        BEHIND_TLS_PROXY=behind_proxy,
    )
    assert result.returncode == 0, result.stderr
    line = next(x for x in result.stdout.splitlines() if x.startswith("forwarded_allow_ips "))
    assert line.split("=", 1)[1].strip() == trusted


def test_secrets_compose_passes_as_files_are_read_from_them(tmp_path: Path) -> None:
    key = "H1Jc0Bm7Js1e4aT3Fo8zQbB3g9u0rJ5tO1d4A9pG2sE="
    secrets = {
        "DATABASE_URL": "postgres://portal:pw@db.internal:5432/portal",
        "CELERY_BROKER_URL": "redis://:pw@redis.internal:6379/0",
        "EMAIL_URL": "smtp+tls://mailer:pw@smtp.internal:587",
        "TOKEN_ENCRYPTION_KEYS": key,
    }
    files = {}
    for name, value in secrets.items():
        path = tmp_path / name.lower()
        path.write_text(value + "\n")
        files[f"{name}_FILE"] = str(path)
    show = (
        "from django.conf import settings; d = settings.DATABASES['default']; "
        "print(d['HOST'], d['PASSWORD'], settings.CELERY_BROKER_URL, settings.EMAIL_HOST, "
        "settings.TOKEN_ENCRYPTION_KEYS)"
    )
    result = run_portal(
        [sys.executable, "-c", f"import django; django.setup(); {show}"],
        tmp_path,
        DJANGO_SETTINGS_MODULE="portal.settings",
        **files,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [
        "db.internal",
        "pw",
        secrets["CELERY_BROKER_URL"],
        "smtp.internal",
        f"['{key}']",
    ]
