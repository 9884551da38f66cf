"""Optional cross-encoder rerank (FlagEmbedding FlagReranker) from a configured name or path.

AGENTDESK_RERANKER names the weights (a local folder, or a hub name already in the local cache;
nothing is downloaded: HF_HUB_OFFLINE is forced). With no weights the step is skipped and the
caller gets a note to show the user, never an error. The same goes for weights that fail to load
or fail to score (rag.search catches the latter): the note says so, the hits keep the fused
order, and the model is not tried again for FAILURE_TTL seconds.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Sequence
from dataclasses import replace
from functools import lru_cache
from pathlib import Path

from rag.types import Hit
from serving.settings import get_settings

log = logging.getLogger(__name__)
DEPTH = get_settings().rerank_depth  # CPU cost grows linearly with it
MAX_LENGTH = 512  # tokens per (query, passage) pair, unless the model has fewer positions
FAILURE_TTL = 60.0  # seconds a failing model is left alone before it is tried again

_failures: dict[str, tuple[float, str]] = {}  # name -> (monotonic time, note)
_failures_lock = threading.Lock()


class Reranker:
    def __init__(self, name_or_path: str) -> None:
        from FlagEmbedding import FlagReranker

        self.name = name_or_path
        self.model = FlagReranker(name_or_path, use_fp16=False, devices="cpu", batch_size=32,
                                  max_length=MAX_LENGTH)
        # A longer input than the position table runs past it, and FlagEmbedding then shrinks its
        # batch to nothing and fails with an AttributeError.
        self.model.max_length = max_length(getattr(self.model.model, "config", None))

    def scores(self, query: str, texts: Sequence[str]) -> list[float]:
        if not texts:
            return []
        out = self.model.compute_score([(query, t) for t in texts])
        return [float(s) for s in (out if isinstance(out, list) else [out])]

    def rerank(self, query: str, hits: Sequence[Hit], depth: int = DEPTH) -> list[Hit]:
        """Re-order the first `depth` hits by cross-encoder score; the rest keep their order."""
        head, tail = list(hits[:depth]), list(hits[depth:])
        scored = self.scores(query, [h.text for h in head])
        ranked = sorted(zip(head, scored), key=lambda p: -p[1])
        return [replace(h, score=s) for h, s in ranked] + tail


def max_length(config: object) -> int:
    """MAX_LENGTH, or fewer: the positions the model has (RoBERTa-style models start their
    positions after the padding index, so they have pad_token_id + 1 fewer)."""
    positions = getattr(config, "max_position_embeddings", None)
    if not isinstance(positions, int) or positions <= 0:
        return MAX_LENGTH
    model_type = getattr(config, "model_type", "") or ""
    if "roberta" in model_type or model_type == "camembert":
        pad = getattr(config, "pad_token_id", None)
        positions -= (pad if isinstance(pad, int) else 1) + 1
    return min(MAX_LENGTH, positions) if positions > 0 else MAX_LENGTH


def record_failure(name: str, error: BaseException) -> str:
    """Remember that `name` failed to score, for FAILURE_TTL s; returns the note for the user."""
    msg = " ".join(str(error).split())
    msg = msg[:200] + ("..." if len(msg) > 200 else "")
    note = f"reranker failed ({type(error).__name__}: {msg}); results in fused order"
    with _failures_lock:
        _failures[name] = (time.monotonic(), note)
    return note


def _recent_failure(name: str) -> str | None:
    with _failures_lock:
        at, note = _failures.get(name, (0.0, ""))
        if note and time.monotonic() - at < FAILURE_TTL:
            return note
        _failures.pop(name, None)
        return None


def _resolvable(name: str) -> bool:
    if Path(name).exists():
        return True
    try:  # a hub name counts only when its files are already in the local cache
        from huggingface_hub import try_to_load_from_cache

        return isinstance(try_to_load_from_cache(name, "config.json"), str)
    except Exception:
        return False


@lru_cache(maxsize=2)
def _load(name: str) -> Reranker:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    return Reranker(name)


def get_reranker(name: str | None = None) -> tuple[Reranker | None, str | None]:
    """(reranker, None), or (None, note saying why the rerank step is skipped)."""
    name = name or os.environ.get("AGENTDESK_RERANKER") or ""
    if not name:
        return None, "reranker skipped: no weights configured (set AGENTDESK_RERANKER)"
    if not _resolvable(name):
        return None, f"reranker skipped: no local weights for {name!r}"
    failed = _recent_failure(name)
    if failed:  # loading (or running) it again now would only fail again, at a cost per query
        return None, failed
    try:
        return _load(name), None
    except Exception as e:
        log.warning("reranker %s failed to load: %s", name, e)
        note = f"reranker skipped: {name!r} failed to load ({type(e).__name__})"
        with _failures_lock:
            _failures[name] = (time.monotonic(), note)
        return None, note
