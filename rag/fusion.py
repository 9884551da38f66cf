"""Combine ranked lists: RRF (baseline) and weighted normalised-score fusion (tuned, default).

Inputs are per-retriever lists of (id, score), best first. RRF only uses ranks; weighted fusion
normalises each list's scores (min-max or z-score) and adds them with a weight. A candidate that a
retriever did not return gets that list's lowest normalised score: it was at best as good as the
worst item that retriever returned.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

Ranked = Sequence[tuple[str, float]]

RRF_K = 60
# Tuned on SciFact train only (evals/retrieval.py `tune`); see docs/rag.md for the sweep.
DENSE_WEIGHT = 0.45
NORM = "minmax"
CANDIDATES = 100  # per retriever, before fusion


def rrf(rankings: Sequence[Ranked], k: int = RRF_K) -> list[tuple[str, float]]:
    scores: dict[str, float] = {}
    for ranking in rankings:
        for rank, (doc_id, _) in enumerate(ranking, start=1):
            scores[doc_id] = scores.get(doc_id, 0.0) + 1.0 / (k + rank)
    return sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))


def normalize(values: np.ndarray, method: str) -> np.ndarray:
    if len(values) == 0:
        return values
    if method == "minmax":
        lo, hi = values.min(), values.max()
        return (values - lo) / (hi - lo) if hi > lo else np.ones_like(values)
    if method == "zscore":
        sd = values.std()
        return (values - values.mean()) / sd if sd > 0 else np.zeros_like(values)
    raise ValueError(f"unknown normalisation {method!r}")


def weighted(rankings: Sequence[Ranked], weights: Sequence[float],
             method: str = NORM) -> list[tuple[str, float]]:
    ids = list(dict.fromkeys(i for r in rankings for i, _ in r))
    pos = {i: n for n, i in enumerate(ids)}
    total = np.zeros(len(ids))
    for ranking, w in zip(rankings, weights):
        if not ranking:
            continue
        norm = normalize(np.array([s for _, s in ranking], dtype=np.float64), method)
        col = np.full(len(ids), norm.min())  # missing -> this list's floor
        col[[pos[i] for i, _ in ranking]] = norm
        total += w * col
    order = sorted(range(len(ids)), key=lambda n: (-total[n], ids[n]))
    return [(ids[n], float(total[n])) for n in order]


def hybrid(bm25: Ranked, dense: Ranked, method: str = "weighted",
           dense_weight: float = DENSE_WEIGHT, norm: str = NORM) -> list[tuple[str, float]]:
    """The production fusion: tuned weighted fusion, or RRF when method == "rrf"."""
    if method == "rrf":
        return rrf([bm25, dense])
    return weighted([bm25, dense], [1.0 - dense_weight, dense_weight], norm)
