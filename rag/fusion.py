"""Combine ranked lists: RRF (baseline) and weighted normalised-score fusion (tuned, default).

Inputs are per-retriever lists of (id, score), best first. RRF only uses ranks; weighted fusion
normalises each list's scores (min-max or z-score) and adds them with a weight. A candidate that a
retriever did not return gets that list's lowest normalised score: it was at best as good as the
worst item that retriever returned.

A degenerate list (one hit, or all scores tied: fewer than two distinct scores) has no spread to
normalise. Its candidates get 1.0 and the candidates it did not return get 0.0, with either
method. Before, min-max gave both 1.0 (and z-score both 0.0), so the only chunk holding a rare
query term (an error code, a name) got no credit for it and could fall out of the top k.
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


def degenerate(values: np.ndarray) -> bool:
    """Fewer than two distinct scores: nothing to normalise against."""
    return len(values) == 0 or not values.max() > values.min()


def normalize(values: np.ndarray, method: str) -> np.ndarray:
    """Normalised scores; a degenerate list (see `degenerate`) is all 1.0 with either method."""
    if method not in ("minmax", "zscore"):
        raise ValueError(f"unknown normalisation {method!r}")
    if len(values) == 0:
        return values
    if degenerate(values):
        return np.ones_like(values)
    if method == "minmax":
        lo, hi = values.min(), values.max()
        return (values - lo) / (hi - lo)
    sd = values.std()
    return (values - values.mean()) / sd if sd > 0 else np.ones_like(values)


def weighted(rankings: Sequence[Ranked], weights: Sequence[float],
             method: str = NORM) -> list[tuple[str, float]]:
    ids = list(dict.fromkeys(i for r in rankings for i, _ in r))
    pos = {i: n for n, i in enumerate(ids)}
    total = np.zeros(len(ids))
    for ranking, w in zip(rankings, weights):
        if not ranking:
            continue
        values = np.array([s for _, s in ranking], dtype=np.float64)
        norm = normalize(values, method)
        # Missing -> this list's floor; for a degenerate list 0.0, below its hits (all 1.0).
        col = np.full(len(ids), 0.0 if degenerate(values) else norm.min())
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
