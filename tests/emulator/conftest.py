"""The `emulator` fixture: the session's in-process emulator, reset to `demo` per test."""

from collections.abc import Iterator

import pytest

from emulator.server import EmulatorServer
from emulator.throttling import Throttle


@pytest.fixture
def emulator(emulator_server: EmulatorServer) -> Iterator[EmulatorServer]:
    """The session's emulator (tests/conftest.py), reset to the demo scenario, throttling off."""
    emulator_server.set_notification_url(None)
    emulator_server.reset(scenario="demo")
    emulator_server.throttle = Throttle(enabled=False)
    yield emulator_server


@pytest.fixture
def pim_link(emulator: EmulatorServer) -> Iterator[EmulatorServer]:
    """The demo with the `pim-link` assumption on (docs/emulator.md, Assumptions): PIM schedule
    requests and approvals behind jitRequests. No Azure document shows them; tests that use this
    fixture test the emulator's assumption, not Azure."""
    emulator.assumptions = {"pim-link"}
    emulator.reset(scenario="demo")
    yield emulator
    emulator.assumptions = set()
    emulator.reset(scenario="demo")
