"""A metadata database with the namespaces ``docker`` and ``other``."""

from __future__ import annotations

import pytest

from estiba.metadata.db import Database
from estiba.metadata.namespaces import Namespaces


@pytest.fixture
def db(tmp_path):
    database = Database(str(tmp_path / "metadata.db"))
    Namespaces(database).create("docker")
    Namespaces(database).create("other")
    yield database
    database.close()
