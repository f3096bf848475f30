"""The `emulator` fixture: one in-process emulator per test session, reset to `demo` per test."""

from collections.abc import Iterator

import pytest

from emulator.server import EmulatorServer
from emulator.throttling import Throttle


@pytest.fixture(scope="session")
def emulator_session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmulatorServer]:
    server = EmulatorServer(
        scenario="demo",
        var_dir=tmp_path_factory.mktemp("emulator-var"),
        port=0,
        http_port=0,
        throttling=False,
    )
    server.start()
    yield server
    server.stop()


@pytest.fixture
def emulator(emulator_session: EmulatorServer) -> Iterator[EmulatorServer]:
    emulator_session.reset(scenario="demo")
    emulator_session.throttle = Throttle(enabled=False)
    yield emulator_session
