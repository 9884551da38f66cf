from __future__ import annotations

import pytest

from serving.persistence import checkpointer


@pytest.fixture
async def saver():
    """A real AsyncPostgresSaver on DATABASE_URL or the embedded Postgres."""
    async with checkpointer() as s:
        yield s
