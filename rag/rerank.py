"""Optional cross-encoder rerank (FlagEmbedding FlagReranker) from a configured name or path.

AGENTDESK_RERANKER names the weights (a local folder, or a hub name already in the local cache;
nothing is downloaded: HF_HUB_OFFLINE is forced). With no weights the step is skipped and the
caller gets a note to show the user, never an error.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from dataclasses import replace
from functools import lru_cache
from pathlib import Path

from rag.types import Hit
from serving.settings import get_settings

log = logging.getLogger(__name__)
DEPTH = get_settings().rerank_depth  # CPU cost grows linearly with it


class Reranker:
    def __init__(self, name_or_path: str) -> None:
        from FlagEmbedding import FlagReranker

        self.name = name_or_path
        self.model = FlagReranker(name_or_path, use_fp16=False, devices="cpu", batch_size=32,
                                  max_length=512)

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
    try:
        return _load(name), None
    except Exception as e:
        log.warning("reranker %s failed to load: %s", name, e)
        return None, f"reranker skipped: {name!r} failed to load ({type(e).__name__})"
