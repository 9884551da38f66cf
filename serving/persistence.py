"""The checkpointer the LangGraph server loads (`langgraph.json` -> `checkpointer.path`).

An async context manager yielding `AsyncPostgresSaver` over our tuned pool. The server
enters it once per event loop thread and closes it on shutdown. `setup()` is idempotent
(it runs only missing migrations), so every start calls it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver

from serving.db import database_url, ensure_schema_async, make_pool
from serving.metrics import CHECKPOINT_WRITE
from serving.settings import get_settings

log = logging.getLogger(__name__)


class TimedPostgresSaver(AsyncPostgresSaver):
    """The stock saver, with each checkpoint write timed into a Prometheus histogram."""

    async def aput(self, config, checkpoint, metadata, new_versions):
        started = time.perf_counter()
        try:
            return await super().aput(config, checkpoint, metadata, new_versions)
        finally:
            CHECKPOINT_WRITE.observe(time.perf_counter() - started)


@asynccontextmanager
async def checkpointer(url: str | None = None) -> AsyncIterator[AsyncPostgresSaver]:
    """Yield a ready saver; the pool closes when the server (or test) leaves the context."""
    sync_commit = get_settings().checkpoint_sync_commit
    pool = make_pool(url or database_url(), synchronous_commit=sync_commit)
    await pool.open(wait=True, timeout=60)
    try:
        saver = TimedPostgresSaver(pool)
        await saver.setup()
        await ensure_schema_async(pool)
        log.info("Postgres checkpointer ready (synchronous_commit %s)", "on" if sync_commit else "off")
        yield saver
    finally:
        await pool.close()
