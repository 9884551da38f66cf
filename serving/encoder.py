"""The bundled MiniLM sentence encoder for the offline router: the same encoder (and ONNX
export) as RAG's dense retrieval, so one MiniLM is loaded per process, never from a hub.

It used to be a separate sentence-transformers (torch) model: ~190 ms per routed message on a
busy 2-core box against ~15 ms for the int8 ONNX session.
"""

from __future__ import annotations

import os

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


def embed(texts: list[str]) -> np.ndarray:
    """Unit-normalised embeddings (numpy, float32), one row per text."""
    from rag.dense import get_encoder

    return get_encoder().encode(texts)
