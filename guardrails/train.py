"""`agentdesk train injection --dataset FILE [--report]`: fit the injection classifier.

Reproducible: fixed fold seeds, deterministic lbfgs, the dataset's sha256 in the artifact.
The threshold is picked on out-of-fold scores (never in-sample ones, which are overconfident)
so that the deployed decision - classifier OR a near-certain rule - keeps FPR <= TARGET_FPR.
The data stays where it is; only weights, bias and threshold are written.

Training also reads two benign supplements as extra negatives: `guardrails/data/benign_desk.txt`,
requests in this product's own domain (documents, SQL, code, operations), and `benign_tasks.txt`,
generic task instructions with output formats ("answer yes or no", "respond with the label only"),
which a model trained on dev alone mistakes for injections, and at half weight `benign_secops.txt`,
security and access administration ("rotate the database password", "revoke the OAuth tokens"),
which dev's password-game attacks taught it to refuse (the weight is a measured trade: full weight
lost more unseen attacks than it saved benign requests; docs/guardrails.md). `attacks_written.txt` adds attacks as
extra positives, in the families a deployed desk meets (overrides, prompt and secret extraction,
personas, indirect injection in documents and tool output, fake authority, approval bypass, other
languages, obfuscation): dev's attacks come from two sources, and a model that only knows their
wording missed plain English overrides. The supplements are only ever training rows: every
reported figure is measured on dev.jsonl rows alone, so they cannot flatter them.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold

from evals.guardrails_eval import load_rows as load_labelled_rows
from evals.jsonl import DatasetError
from guardrails import injection
from guardrails.rules import CATEGORIES, RULE_BLOCK

TARGET_FPR = 0.01  # half the 0.02 budget: unseen benign text scores higher than dev benign text
C = 0.2  # stronger regularisation generalised better to a held-out source (see docs)
SEED = 0
_DATA = Path(__file__).parent / "data"
SUPPLEMENTS = (_DATA / "benign_desk.txt", _DATA / "benign_tasks.txt")
SECOPS_SUPPLEMENT = (_DATA / "benign_secops.txt",)
SECOPS_WEIGHT = 0.5
ATTACK_SUPPLEMENTS = (_DATA / "attacks_written.txt",)
MIN_PER_CLASS = 5  # the 5 stratified folds need a row of each label in every fold


def load_rows(path: str) -> list[dict]:
    """The eval's validated rows (labels 0/1 only, a string "text"), refused with a DatasetError
    when a label has too few rows: anything else trained a classifier that saved the wrong
    class's weights or a threshold that never fires, silently."""
    rows = load_labelled_rows(path)
    attacks = sum(r["label"] for r in rows)
    benign = len(rows) - attacks
    if min(attacks, benign) < MIN_PER_CLASS:
        raise DatasetError(f"{path}: training needs at least {MIN_PER_CLASS} rows of each label, "
                           f"got {benign} benign (0) and {attacks} attacks (1)")
    return rows


def load_supplement(paths: tuple[Path, ...] = SUPPLEMENTS) -> list[str]:
    lines = [ln for path in paths if path.exists() for ln in path.read_text(encoding="utf-8").splitlines()]
    return [ln.strip() for ln in lines if ln.strip() and not ln.startswith("#")]


# Feature rows of the supplements (benign 0, attacks 1), added to every training set; set by main().
_EXTRA = np.zeros((0, 0), dtype=np.float32)
_EXTRA_Y = np.zeros(0, dtype=int)
_EXTRA_W = np.zeros(0)


def _fit(x: np.ndarray, y: np.ndarray) -> LogisticRegression:
    w = np.ones(len(y))
    if len(_EXTRA):
        x, y, w = np.vstack([x, _EXTRA]), np.concatenate([y, _EXTRA_Y.astype(y.dtype)]), np.concatenate([w, _EXTRA_W])
    return LogisticRegression(C=C, class_weight="balanced", max_iter=5000).fit(x, y, sample_weight=w)


def _oof(x: np.ndarray, y: np.ndarray, folds: int = 5) -> np.ndarray:
    out = np.zeros(len(y))
    for tr, te in StratifiedKFold(folds, shuffle=True, random_state=SEED).split(x, y):
        out[te] = _fit(x[tr], y[tr]).predict_proba(x[te])[:, 1]
    return out


def _features(texts: list[str]) -> tuple[np.ndarray, list[injection.Analysis]]:
    analyses = [injection.analyse(t) for t in texts]
    x = np.vstack([injection.features(analyses[i : i + 32], exact=True) for i in range(0, len(analyses), 32)])
    return x, analyses


def pick_threshold(scores: np.ndarray, y: np.ndarray, ruled: np.ndarray, target: float = TARGET_FPR) -> float:
    """Lowest threshold whose combined decision (score >= t or rule) keeps benign FPR <= target."""
    benign = y == 0
    budget = int(np.floor(target * benign.sum())) - int((ruled & benign).sum())
    cand = np.sort(scores[benign & ~ruled])[::-1]
    if budget < 0 or len(cand) == 0:
        return 1.0
    if budget >= len(cand):
        return float(cand[-1])
    return float(np.nextafter(cand[budget], 1.0))  # strictly above the (budget+1)-th highest benign


def metrics(pred: np.ndarray, y: np.ndarray) -> dict:
    tp = int((pred & (y == 1)).sum())
    fp = int((pred & (y == 0)).sum())
    pos, neg = int((y == 1).sum()), int((y == 0).sum())
    tpr = tp / pos if pos else None
    fpr = fp / neg if neg else None
    prec = tp / (tp + fp) if tp + fp else None
    f1 = 2 * prec * tpr / (prec + tpr) if prec and tpr else None
    return {"n": len(y), "tpr": tpr, "fpr": fpr, "precision": prec, "f1": f1}


def _r(d: dict) -> dict:
    return {k: (round(v, 4) if isinstance(v, float) else v) for k, v in d.items()}


def report(x: np.ndarray, y: np.ndarray, ruled: np.ndarray, sources: np.ndarray) -> dict:
    out: dict = {}
    oof = _oof(x, y)
    thr = pick_threshold(oof, y, ruled)
    out["cv5"] = _r({**metrics((oof >= thr) | ruled, y), "auc": roc_auc_score(y, oof), "threshold": thr})
    out["cv5_classifier_only"] = _r(metrics(oof >= thr, y))
    out["rules_only"] = _r(metrics(ruled, y))
    # Leave one source out: train without it, pick the threshold by inner CV on the rest, test on it.
    loso = {}
    for src in sorted(set(sources)):
        held = sources == src
        tr_x, tr_y, tr_r = x[~held], y[~held], ruled[~held]
        t = pick_threshold(_oof(tr_x, tr_y), tr_y, tr_r)
        p = _fit(tr_x, tr_y).predict_proba(x[held])[:, 1]
        m = metrics((p >= t) | ruled[held], y[held])
        loso[src] = _r({"n": m["n"], "tpr": m["tpr"], "fpr": m["fpr"], "threshold": t})
        print(f"loso {src}: {loso[src]}", file=sys.stderr)
    out["loso"] = loso
    return out


def main(args: argparse.Namespace) -> int:
    try:  # before any feature work, so bad input costs nothing and never reaches the artifact
        rows = load_rows(args.dataset)
    except DatasetError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    digest = hashlib.sha256(Path(args.dataset).read_bytes()).hexdigest()
    supplement = load_supplement()
    secops = load_supplement(SECOPS_SUPPLEMENT)
    attacks = load_supplement(ATTACK_SUPPLEMENTS)
    print(f"analysing {len(rows)} rows, {len(supplement) + len(secops)} supplementary benign rows and {len(attacks)} "
          "supplementary attacks...", file=sys.stderr)
    global _EXTRA, _EXTRA_Y, _EXTRA_W
    extra = supplement + secops + attacks
    _EXTRA = _features(extra)[0] if extra else np.zeros((0, 0), dtype=np.float32)
    _EXTRA_Y = np.array([0] * (len(supplement) + len(secops)) + [1] * len(attacks), dtype=int)
    _EXTRA_W = np.array([1.0] * len(supplement) + [SECOPS_WEIGHT] * len(secops) + [1.0] * len(attacks))
    x, analyses = _features([r["text"] for r in rows])
    y = np.array([r["label"] for r in rows])
    ruled = np.array([max(a.cats[c] for c in CATEGORIES if c != "flooding") >= RULE_BLOCK for a in analyses])
    sources = np.array([r["source"] for r in rows])

    thr = pick_threshold(_oof(x, y), y, ruled)
    model = _fit(x, y)
    meta = {
        "dataset_sha256": digest, "n": len(rows), "C": C, "target_fpr": TARGET_FPR,
        "supplement_sha256": hashlib.sha256("\n".join(supplement).encode()).hexdigest(),
        "supplement_n": len(supplement),
        "secops_supplement_sha256": hashlib.sha256("\n".join(secops).encode()).hexdigest(),
        "secops_supplement_n": len(secops), "secops_weight": SECOPS_WEIGHT,
        "attack_supplement_sha256": hashlib.sha256("\n".join(attacks).encode()).hexdigest(),
        "attack_supplement_n": len(attacks),
        "features": [f"minilm_{injection.encoder.TRAIN_BACKEND}_mean"] * 384 + list(injection.FEATURE_NAMES),
        "max_tokens": injection.encoder.MAX_TOKENS,
    }
    injection.save(injection.ARTIFACT, model.coef_[0], float(model.intercept_[0]), thr, meta)
    injection.load.cache_clear()
    print(f"wrote {injection.ARTIFACT} (threshold {thr:.4f})", file=sys.stderr)
    if args.report:
        print(json.dumps(report(x, y, ruled, sources), indent=2))
    return 0
