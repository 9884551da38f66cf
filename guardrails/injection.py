"""Prompt-injection / jailbreak detector: normalisation -> rules -> logistic regression.

The classifier reads the MiniLM embedding of a window of the normalised text plus the rule
category scores and obfuscation flags. Training (guardrails/train.py) and serving share
`features()`, so the two can never drift apart. The artifact is a few KB of weights.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from guardrails import encoder
from guardrails.normalize import Normalized, normalize
from guardrails.rules import CATEGORIES, RULE_BLOCK, RuleHit, category_scores, flooding_score, scan

ARTIFACT = Path(__file__).parent / "artifacts" / "injection_lr.npz"
OBFUSCATION_SIGNALS = ("zero_width_in_words", "mixed_script_words", "base64_text_blobs", "tag_chars", "leet_tokens")
FEATURE_NAMES = (*CATEGORIES, *(f"obf_{s}" for s in OBFUSCATION_SIGNALS))
_WINDOW_CHARS = 400  # ~64 tokens of English; centred on the first rule hit in long inputs


@dataclass
class Analysis:
    norm: Normalized
    hits: list[RuleHit]
    cats: dict[str, float]
    window: str


def analyse(text: str) -> Analysis:
    norm = normalize(text)
    hits = scan(norm.all_views)
    cats = category_scores(hits, flooding_score(norm.clean))
    # The embedding sees a bounded window: the head, or around the first rule hit on the clean
    # text (an attack buried in a long paste), plus any decoded hidden text.
    clean = norm.clean
    window = clean[:_WINDOW_CHARS]
    in_clean = [h for h in hits if h.view == 0]
    if len(clean) > _WINDOW_CHARS and in_clean:
        start = max(0, min(h.span[0] for h in in_clean) - 80)
        window = clean[start : start + _WINDOW_CHARS]
    extra = " ".join(v[:_WINDOW_CHARS] for v in norm.views if v != clean)
    if extra:
        window = f"{extra[:_WINDOW_CHARS // 2]} {window}"
    return Analysis(norm, hits, cats, window)


def rule_features(a: Analysis) -> np.ndarray:
    obf = [min(1.0, float(a.norm.signals.get(s, 0))) for s in OBFUSCATION_SIGNALS]
    return np.array([a.cats[c] for c in CATEGORIES] + obf, dtype=np.float32)


def features(analyses: list[Analysis], exact: bool = False) -> np.ndarray:
    """Rows of [embedding(384) | rule category scores | obfuscation flags]. `exact`: the fp32
    embeddings training uses (guardrails/encoder.py says why serving reads int8)."""
    emb = encoder.embed([a.window for a in analyses], exact=exact)
    rules = np.stack([rule_features(a) for a in analyses])
    return np.hstack([emb, rules])


@dataclass(frozen=True)
class Model:
    w: np.ndarray
    b: float
    threshold: float
    meta: dict

    def score(self, x: np.ndarray) -> np.ndarray:
        if x.shape[1] != len(self.w):
            raise RuntimeError(f"the injection classifier was trained on {len(self.w)} features but the "
                               f"encoder gives {x.shape[1]}: run `agentdesk train injection`")
        return 1.0 / (1.0 + np.exp(-(x @ self.w + self.b)))


def save(path: Path, w: np.ndarray, b: float, threshold: float, meta: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(
        path, w=w.astype(np.float32), b=np.float32(b), threshold=np.float32(threshold),
        meta=np.array(json.dumps(meta, sort_keys=True)),
    )


@lru_cache(maxsize=1)
def load(path: Path = ARTIFACT) -> Model:
    z = np.load(path, allow_pickle=False)
    return Model(z["w"], float(z["b"]), float(z["threshold"]), json.loads(str(z["meta"])))


@dataclass
class Detection:
    is_attack: bool
    category: str | None  # "injection" | "jailbreak" | None
    score: float
    rule_score: float
    hits: list[RuleHit]
    signals: dict[str, int]


def detect(text: str) -> Detection:
    model = load()
    a = analyse(text)
    p = float(model.score(features([a]))[0])
    rule_score = max(a.cats[c] for c in CATEGORIES if c != "flooding")
    is_attack = p >= model.threshold or rule_score >= RULE_BLOCK
    category = None
    if is_attack:
        jb = a.cats["jailbreak"]
        other = max(a.cats["override"], a.cats["exfiltration"], a.cats["delimiter"])
        category = "jailbreak" if jb > 0 and jb >= other else "injection"
    return Detection(is_attack, category, p, rule_score, a.hits, a.norm.signals)
