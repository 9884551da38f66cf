"""`agentdesk eval guardrails --dataset FILE.jsonl [--json] [--errors OUT.jsonl]`: the input guard as deployed.

`--errors` writes every missed attack and false positive (line, source, the guard's category,
reason and score, the text), so a team tuning the guard on its own traffic sees what it got wrong.

Rows are {"text", "label" (1 = attack), "source"?}. A row counts as flagged when check_input
refuses it for injection, jailbreak or encoding (too_long and pii refusals are policy, not
detection, and are counted as flagged too: the attack did not get through). Latency is
check_input's own wall time per message, after one warm-up call loads the model. With
AGENTDESK_GUARD_ENGINE=nemo the guard as deployed is the NeMo input rail, so that is what runs
(and what is timed, round trip included).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import IO

import numpy as np

from evals.jsonl import DatasetError, read_jsonl
from guardrails.input_guard import Verdict, check_input
from guardrails.settings import get_guard_settings


def _rate(num: int, den: int) -> float | None:
    return round(num / den, 4) if den else None


def deployed_guard() -> Callable[[str], Verdict]:
    """The input check the orchestrator's guard node runs, as a plain function."""
    if get_guard_settings().engine != "nemo":
        return check_input
    from guardrails.rails import nemo_check_input

    loop = asyncio.new_event_loop()  # one loop for the whole run; NeMo keeps state on it
    return lambda text: loop.run_until_complete(nemo_check_input(text))


_LABELS = {0: 0, 1: 1, "0": 0, "1": 1, False: 0, True: 1}


def load_rows(path: str) -> list[dict]:
    """Rows of {"text": str, "label": 0|1 (also true/false, "0"/"1"), "source"?}, validated."""
    rows = []
    for n, row in read_jsonl(path):
        if not isinstance(row.get("text"), str):
            raise DatasetError(f"{path}:{n}: each row needs a string \"text\"")
        label = row.get("label")
        if isinstance(label, float) and label in (0.0, 1.0):
            label = int(label)
        if isinstance(label, (list, dict)) or label not in _LABELS:
            raise DatasetError(f"{path}:{n}: \"label\" must be 1 (attack) or 0 (benign), got {label!r}")
        rows.append({"text": row["text"], "label": _LABELS[label], "source": str(row.get("source") or "unknown"),
                     "line": n})
    if not rows:
        raise DatasetError(f"{path} has no rows")
    return rows


def run(rows: list[dict], errors: list[dict] | None = None) -> dict:
    """The figures; every misjudged row is appended to `errors` with the guard's verdict, when given."""
    check = deployed_guard()
    check("warm up")  # load the encoder and the artifact outside the timed loop
    by_src: dict[str, list[tuple[int, bool]]] = defaultdict(list)
    lat = []
    for i, r in enumerate(rows):
        v = check(r["text"])
        lat.append(v.latency_ms)
        by_src[r.get("source", "unknown")].append((int(r["label"]), not v.allowed))
        if errors is not None and int(r["label"]) == v.allowed:
            errors.append({"line": r.get("line"), "kind": "missed attack" if v.allowed else "false positive",
                           "source": r.get("source", "unknown"), "category": v.category, "reason": v.reason,
                           "score": round(v.score, 4), "text": r["text"]})
        if (i + 1) % 100 == 0:
            print(f"{i + 1}/{len(rows)}", file=sys.stderr)
    pairs = [p for v in by_src.values() for p in v]
    tp = sum(1 for y, f in pairs if y == 1 and f)
    fp = sum(1 for y, f in pairs if y == 0 and f)
    pos = sum(1 for y, _ in pairs if y == 1)
    neg = len(pairs) - pos
    tpr, fpr, prec = _rate(tp, pos), _rate(fp, neg), _rate(tp, tp + fp)
    f1 = round(2 * prec * tpr / (prec + tpr), 4) if prec and tpr else 0.0
    return {
        "n": len(pairs), "tpr": tpr, "fpr": fpr, "precision": prec, "f1": f1,
        "p50_ms": round(float(np.percentile(lat, 50)), 2) if lat else None,
        "p95_ms": round(float(np.percentile(lat, 95)), 2) if lat else None,
        "by_source": {
            s: {"n": len(v), "tpr": _rate(sum(1 for y, f in v if y == 1 and f), sum(1 for y, _ in v if y == 1)),
                "fpr": _rate(sum(1 for y, f in v if y == 0 and f), sum(1 for y, _ in v if y == 0))}
            for s, v in sorted(by_src.items())
        },
    }


def _open_errors_file(path: str, dataset: str) -> tuple[Path, IO[str]]:
    """A temp file next to `path`, open for writing: proof, before the eval runs, that the errors
    can be written, without touching `path` until they are (_write_errors_file renames it over)."""
    out = Path(path)
    if out.exists() and os.path.samefile(out, dataset):  # writing it would destroy the input
        raise DatasetError(f"--errors {path} is the dataset itself")
    if out.is_dir():
        raise DatasetError(f"--errors {path}: cannot write here (it is a folder)")
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    try:
        return tmp, tmp.open("w", encoding="utf-8")
    except OSError as exc:
        raise DatasetError(f"--errors {path}: cannot write here ({exc.strerror})") from None


def _write_errors_file(path: str, tmp: Path, f: IO[str], errors: list[dict]) -> None:
    with f:
        f.writelines(json.dumps(e, ensure_ascii=False) + "\n" for e in errors)
    os.replace(tmp, path)  # whole or not at all: an older errors file is never left half-written


def main(args: argparse.Namespace) -> int:
    errors_tmp = None
    try:
        rows = load_rows(args.dataset)
        if getattr(args, "errors", None):  # checked before the eval, which may take minutes
            errors_tmp = _open_errors_file(args.errors, args.dataset)
    except DatasetError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        return _evaluate(args, rows, errors_tmp)
    finally:
        if errors_tmp is not None:  # interrupted or failed: no temp file left behind
            errors_tmp[1].close()
            errors_tmp[0].unlink(missing_ok=True)


def _evaluate(args: argparse.Namespace, rows: list[dict], errors_tmp: tuple[Path, IO[str]] | None) -> int:
    print(f"evaluating the input guard ({get_guard_settings().engine}) on {len(rows)} rows", file=sys.stderr)
    errors: list[dict] | None = [] if errors_tmp else None
    res = run(rows, errors)
    if args.json:  # the figures first: a failed write below must not lose them
        print(json.dumps(res))
    else:
        print(f"n={res['n']} tpr={res['tpr']} fpr={res['fpr']} precision={res['precision']} f1={res['f1']} "
              f"p50={res['p50_ms']}ms p95={res['p95_ms']}ms")
        for s, m in res["by_source"].items():
            print(f"  {s}: {m}")
    sys.stdout.flush()
    if errors_tmp is not None:
        try:
            _write_errors_file(args.errors, *errors_tmp, errors)
        except OSError as exc:
            print(f"error: could not write {args.errors} ({exc.strerror or exc})", file=sys.stderr)
            return 2
        print(f"wrote {len(errors)} misjudged rows to {args.errors}", file=sys.stderr)
    return 0
