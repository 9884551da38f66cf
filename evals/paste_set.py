"""`python -m evals.paste_set [--per-kind N] [--seed S] > FILE.jsonl`: benign pasted text.

Engineers paste code, docs, configs and logs into the desk and ask about them; none of the
guard's training or test sets look like that. This builds such a set from files already on the
machine: excerpts (4-25 non-blank lines, at most 2,000 characters) of the Python sources, docs
and config files of the installed packages, and of the system's package logs when readable, half
of them followed by a short question. Rows are `{"text", "label": 0, "source": "paste-<kind>"}`
for `agentdesk eval guardrails`. Paths that name prompts, tests, jailbreaks, injections or attacks
are skipped: their text may be an attack on purpose. The excerpts depend on the installed
versions, so a figure goes with its date.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import sysconfig
from pathlib import Path

QUESTIONS = ("What does this mean?", "Can you explain this?", "Why does this fail?",
             "Summarise this for me.", "Is anything wrong here?")
_SKIP = ("prompt", "test", "jailbreak", "injection", "attack")
_LOGS = (Path("/var/log/dpkg.log"), Path("/var/log/alternatives.log"))


def _files(root: Path) -> dict[str, list[Path]]:
    def under(*patterns: str) -> list[Path]:
        found = {p for pattern in patterns for p in root.rglob(pattern)}
        return sorted(p for p in found if not any(s in str(p.relative_to(root)).lower() for s in _SKIP))

    return {
        "py": under("*.py"),
        "doc": under("*.md", "*.rst", "METADATA"),
        "conf": under("*.json", "*.yaml", "*.yml", "*.toml", "*.cfg", "*.sql"),
        "log": [p for p in _LOGS if p.is_file()],
    }


def excerpts(per_kind: int = 250, seed: int = 0, root: Path | None = None) -> list[dict]:
    root = root or Path(sysconfig.get_paths()["purelib"])
    rng = random.Random(seed)
    rows = []
    for kind, files in _files(root).items():
        taken, tries = 0, 0
        while files and taken < per_kind and tries < per_kind * 20:
            tries += 1
            try:
                lines = [ln for ln in rng.choice(files).read_text(encoding="utf-8").splitlines() if ln.strip()]
            except (OSError, UnicodeDecodeError):
                continue
            if len(lines) < 5:
                continue
            k = rng.randint(4, 25)
            start = rng.randint(0, max(0, len(lines) - k))
            text = "\n".join(lines[start:start + k])[:2000]
            if len(text) < 80:
                continue
            if rng.random() < 0.5:
                text = f"{text}\n\n{rng.choice(QUESTIONS)}"
            rows.append({"text": text, "label": 0, "source": f"paste-{kind}"})
            taken += 1
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-kind", type=int, default=250)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    for row in excerpts(args.per_kind, args.seed):
        print(json.dumps(row))
    return 0


if __name__ == "__main__":
    sys.exit(main())
