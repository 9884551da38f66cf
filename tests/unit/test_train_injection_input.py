"""`agentdesk train injection` on bad input: one `error: FILE:LINE: ...` line and exit code 2,
before any feature is computed, and the artifact left as it was. Labels 1/2 used to train a
3-class model and save the wrong class's weights; -1/1 gave a threshold that never fires; 1.5
was read as 1; a missing file, a folder, a bad line or bad UTF-8 was a traceback."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from guardrails import injection, train
from serving.cli import main


class _FeaturesComputed(Exception):
    """Raised instead of the (slow) feature pass: reaching it means validation let the rows through."""


@pytest.fixture
def artifact(tmp_path: Path, monkeypatch) -> Path:
    """The artifact redirected to tmp, and feature work replaced by a sentinel: nothing slow runs
    and nothing real is overwritten, whatever the code under test does."""
    out = tmp_path / "out" / "injection_lr.npz"
    monkeypatch.setattr(injection, "ARTIFACT", out)

    def features(texts):
        raise _FeaturesComputed(len(texts))

    monkeypatch.setattr(train, "_features", features)
    return out


def _rows(labels: list) -> str:
    return "".join(json.dumps({"text": f"row {i}", "label": y}) + "\n" for i, y in enumerate(labels))


@pytest.mark.parametrize("body, message", [
    (_rows([1] * 5 + [2] * 5), ":6: \"label\" must be 1 (attack) or 0 (benign), got 2"),
    (_rows([-1] * 5 + [1] * 5), ":1: \"label\" must be 1 (attack) or 0 (benign), got -1"),
    (_rows([0] * 5 + [1] * 4 + [1.5]), ":10: \"label\" must be 1 (attack) or 0 (benign), got 1.5"),
    (_rows([0] * 10), "needs at least 5 rows of each label, got 10 benign (0) and 0 attacks (1)"),
    (_rows([0] * 10 + [1] * 4), "needs at least 5 rows of each label, got 10 benign (0) and 4 attacks (1)"),
    (_rows([0] * 2) + "not json\n", ":3: not JSON"),
    (_rows([0] * 2) + '{"label": 1}\n', ":3: each row needs a string \"text\""),
    ('{"text": "a", "label": 0}\n{"text": "caf\xe9", "label": 1}\n', ":2: not UTF-8"),
], ids=["labels-1-2", "labels-minus1-1", "label-1.5", "one-class", "4-attacks", "not-json", "no-text", "latin-1"])
def test_bad_dataset_is_one_error_and_writes_nothing(body: str, message: str, artifact: Path, tmp_path: Path,
                                                     capsys) -> None:
    data = tmp_path / "train.jsonl"
    data.write_bytes(body.encode("latin-1") if "not UTF-8" in message else body.encode())
    assert main(["train", "injection", "--dataset", str(data)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("error: ") and message in err[-1], err
    assert not artifact.exists()


@pytest.mark.parametrize("make", [lambda p: p, lambda p: (p.mkdir(), p)[1]], ids=["missing", "folder"])
def test_missing_file_or_folder_is_one_error(make, artifact: Path, tmp_path: Path, capsys) -> None:
    path = make(tmp_path / "train.jsonl")
    assert main(["train", "injection", "--dataset", str(path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1] == f"error: {path} not found"
    assert not artifact.exists()


def test_labels_spelled_other_ways_reach_training(artifact: Path, tmp_path: Path) -> None:
    """The checks are not stricter than the eval's: true/false, "0"/"1" and 1.0 are labels."""
    data = tmp_path / "train.jsonl"
    data.write_text(_rows([True, False, "1", "0", 1.0] * 2 + [0, 1]))
    with pytest.raises(_FeaturesComputed):
        main(["train", "injection", "--dataset", str(data)])
