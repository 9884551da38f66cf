"""Reading the evaluation commands' JSONL files with errors that name the file and line."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path


class DatasetError(ValueError):
    """A dataset file that cannot be read or a row that cannot be scored; the message says where."""


def text_lines(path: Path) -> Iterator[tuple[int, str]]:
    """(line number, text) for each non-blank line; DatasetError naming the line that is not UTF-8
    (read as bytes and decoded line by line, so the error can say where)."""
    with path.open("rb") as f:
        for n, raw in enumerate(f, 1):
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError:
                raise DatasetError(f"{path}:{n}: not UTF-8") from None
            if line.strip():
                yield n, line


def read_jsonl(path: str | Path, missing_hint: str = "") -> Iterator[tuple[int, dict]]:
    """(line number, object) for each non-blank line; DatasetError for a missing file, a line
    that is not UTF-8 or not JSON, or one that is not an object."""
    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"{path} not found{f' ({missing_hint})' if missing_hint else ''}")
    for n, line in text_lines(path):
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DatasetError(f"{path}:{n}: not JSON ({exc.msg})") from None
        if not isinstance(row, dict):
            raise DatasetError(f"{path}:{n}: expected a JSON object")
        yield n, row
