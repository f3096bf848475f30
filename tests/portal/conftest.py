"""Fixtures shared by the portal's tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.db import connection


class UnreachableDatabase:
    """Points the portal's database connection where nothing answers, and back."""

    def __init__(self) -> None:
        self.saved = dict(connection.settings_dict)

    def down(self) -> None:
        connection.close()
        if connection.vendor == "sqlite":
            connection.settings_dict["NAME"] = "/nonexistent-directory/portal.sqlite3"
        else:
            connection.settings_dict.update(HOST="127.0.0.1", PORT="1")

    def up(self) -> None:
        connection.close()
        connection.settings_dict.clear()
        connection.settings_dict.update(self.saved)


@pytest.fixture
def database() -> Iterator[UnreachableDatabase]:
    database = UnreachableDatabase()
    yield database
    database.up()
