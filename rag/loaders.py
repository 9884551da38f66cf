"""Turn a file (Markdown, text, HTML, PDF) into a Document of heading-tagged sections.

Loaders only parse; they never chunk or embed. Any parse problem is raised as LoaderError so
ingestion can report the file and carry on with the rest of the batch.
"""

from __future__ import annotations

import hashlib
import io
import re
from collections.abc import Callable
from itertools import zip_longest
from pathlib import Path

from rag.types import Document, Section

SUFFIXES = {".md": "markdown", ".markdown": "markdown", ".txt": "text", ".text": "text",
            ".html": "html", ".htm": "html", ".pdf": "pdf"}


class LoaderError(Exception):
    """The file could not be read or parsed; the message says why."""


def supported(path: Path) -> bool:
    return path.suffix.lower() in SUFFIXES


def load(path: Path) -> Document:
    kind = SUFFIXES.get(path.suffix.lower())
    if kind is None:
        raise LoaderError(f"unsupported file type {path.suffix or '(none)'}")
    try:
        data = path.read_bytes()
    except OSError as e:
        raise LoaderError(f"unreadable: {e.strerror or e}") from e
    parse: Callable[[bytes, Path], tuple[str, list[Section]]] = _PARSERS[kind]
    try:
        title, sections = parse(data, path)
    except LoaderError:
        raise
    except Exception as e:  # parsers raise many types on corrupt input; all mean "skip this file"
        raise LoaderError(f"cannot parse {kind}: {type(e).__name__}: {e}") from e
    sections = [s for s in sections if s.text.strip()]
    if not sections:
        raise LoaderError("no text found")
    return Document(str(path.resolve()), title or path.stem, sections,
                    hashlib.sha256(data).hexdigest())


def _decode(data: bytes) -> str:
    if b"\x00" in data[:4096]:
        raise LoaderError("binary content in a text file")
    return data.decode("utf-8", errors="replace")


def table_sentences(header: list[str], rows: list[list[str]]) -> list[str]:
    """A table as one sentence per row, each cell named by its column ("Tier: high; approval: a
    reviewer approves."). A row then reads on its own in a chunk, an extractive answer or a
    citation, where the flattened table ("| tier | approval | |---|---| | high | ...") did not,
    and HTML cells no longer run together ("highnone")."""
    if not rows:
        rows, header = [header], []
    out = []
    for cells in rows:
        parts = [f"{h}: {c}" if h else c for h, c in zip_longest(header, cells, fillvalue="") if c]
        if parts:
            text = "; ".join(parts)
            # Sentence case: chunks join sentences with spaces, and the splitter that finds them
            # again for an answer starts a sentence only at a capital ("… none. Tier: high; …").
            text = text[0].upper() + text[1:]
            out.append(text if text[-1] in ".!?" else text + ".")
    return out


_ATX = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_FENCE = re.compile(r"^\s*(```|~~~)")
_RULE_CELL = re.compile(r":?-+:?")
_CELL_BORDER = re.compile(r"(?<!\\)\|")


def _is_table_rule(line: str) -> bool:
    """A pipe table's delimiter row (|---|:--:|). Cell by cell, not one regex: a regex with the
    optional pipes and spaces of this row backtracks quadratically on a long line of spaces."""
    if "|" not in line:
        return False
    cells = line.strip().removeprefix("|").removesuffix("|").split("|")
    return all(_RULE_CELL.fullmatch(c.strip()) for c in cells)


def _cells(line: str) -> list[str]:
    line = line.strip().removeprefix("|")
    if line.endswith("|") and not line.endswith("\\|"):
        line = line[:-1]
    return [c.strip().replace("\\|", "|") for c in _CELL_BORDER.split(line)]


def _markdown_tables(lines: list[str]) -> list[str]:
    """Pipe tables (a header, a |---| rule, rows) become one paragraph per row; not in fences."""
    out: list[str] = []
    i, in_fence = 0, False
    while i < len(lines):
        line = lines[i]
        if _FENCE.match(line):
            in_fence = not in_fence
        rule = lines[i + 1] if i + 1 < len(lines) else ""
        if not in_fence and "|" in line and _is_table_rule(rule):
            j, rows = i + 2, []
            while j < len(lines) and "|" in lines[j] and lines[j].strip():
                rows.append(_cells(lines[j]))
                j += 1
            for sentence in table_sentences(_cells(line), rows):
                out += ["", sentence]  # a blank line: each row is its own paragraph
            out.append("")
            i = j
            continue
        out.append(line)
        i += 1
    return out


def parse_markdown(data: bytes, path: Path) -> tuple[str, list[Section]]:
    stack: list[tuple[int, str]] = []  # (level, heading) of the current heading path
    sections: list[Section] = []
    buf: list[str] = []
    title = ""
    in_fence = False

    def flush() -> None:
        if buf:
            sections.append(Section([h for _, h in stack], "\n".join(_markdown_tables(buf)).strip()))
            buf.clear()

    for line in _decode(data).splitlines():
        if _FENCE.match(line):
            in_fence = not in_fence  # a '#' inside a code block is not a heading
        m = None if in_fence else _ATX.match(line)
        if m:
            flush()
            level, text = len(m.group(1)), m.group(2).strip()
            while stack and stack[-1][0] >= level:
                stack.pop()
            if level == 1 and not title:
                title = text  # the first H1 is the title, not part of every heading path
            else:
                stack.append((level, text))
        else:
            buf.append(line)
    flush()
    return title, sections


def parse_text(data: bytes, path: Path) -> tuple[str, list[Section]]:
    text = _decode(data).strip()
    first = text.split("\n", 1)[0].strip()
    title = first if 0 < len(first) <= 100 and not first.endswith(".") else path.stem
    return title, [Section([], text)]


_PARAGRAPH = "\ue000"  # a private-use character: a paragraph break inside an HTML section
_HEAD = {"h1": 1, "h2": 2, "h3": 3, "h4": 4, "h5": 5, "h6": 6}
_BLOCK = {"p", "div", "li", "br", "tr", "pre", "blockquote", "section", "article", "dd", "dt",
          "table", "ul", "ol", "header", "footer", "main"}
_SKIP = {"script", "style", "noscript", "template", "head", "nav"}


def parse_html(data: bytes, path: Path) -> tuple[str, list[Section]]:
    from bs4 import BeautifulSoup, NavigableString, Tag

    soup = BeautifulSoup(_decode(data), "html.parser")
    title = soup.title.get_text(" ", strip=True) if soup.title else ""
    stack: list[tuple[int, str]] = []
    sections: list[Section] = []
    buf: list[str] = []

    def flush() -> None:
        # Whitespace but newlines first, so no pattern below meets a long run of, say, no-break
        # spaces (`\s*\n\s*` backtracked quadratically on those: 3 s for 50k). Newlines in HTML
        # source are layout; only the table rows' breaks (_PARAGRAPH) become blank lines.
        text = re.sub(r"[^\S\n]+", " ", "".join(buf))
        text = re.sub(r"[ \n]*\n[ \n]*", "\n", text)
        text = re.sub(rf"[ \n]*{_PARAGRAPH}[ \n{_PARAGRAPH}]*", "\n\n", text).strip()
        if text:
            sections.append(Section([h for _, h in stack], text))
        buf.clear()

    for node in (soup.body or soup).descendants:
        if isinstance(node, Tag):
            if node.name in _HEAD:
                flush()
                level, text = _HEAD[node.name], node.get_text(" ", strip=True)
                while stack and stack[-1][0] >= level:
                    stack.pop()
                if level == 1 and not title:
                    title = text
                elif not (level == 1 and text == title):
                    stack.append((level, text))
            elif node.name == "table" and node.find_parent("table") is None:
                rows = [[c.get_text(" ", strip=True) for c in tr.find_all(["td", "th"])]
                        for tr in node.find_all("tr")]
                first = node.find("tr")
                has_header = first is not None and first.find("th") is not None
                header, body = (rows[0], rows[1:]) if has_header else ([], rows)
                buf.append(_PARAGRAPH + _PARAGRAPH.join(table_sentences(header, body)) + _PARAGRAPH)
            elif node.name in _BLOCK:
                buf.append("\n")
        elif isinstance(node, NavigableString) and type(node) is NavigableString:
            # Skip text that belongs to a heading (already used), to script/style, or to a table
            # (already written as row sentences).
            if not any(p.name in _HEAD or p.name in _SKIP or p.name == "table" for p in node.parents):
                buf.append(str(node))
    flush()
    return title, sections


def parse_pdf(data: bytes, path: Path) -> tuple[str, list[Section]]:
    from pypdf import PdfReader

    reader = PdfReader(io.BytesIO(data))
    if reader.is_encrypted and not reader.decrypt(""):
        raise LoaderError("encrypted PDF")
    meta_title = (reader.metadata.title if reader.metadata else None) or ""
    # PDFs carry no reliable heading structure; each page is a section with no heading path.
    pages = [Section([], (page.extract_text() or "").strip()) for page in reader.pages]
    first_line = next((s.text.split("\n", 1)[0].strip() for s in pages if s.text), "")
    return meta_title.strip() or first_line[:100] or path.stem, pages


_PARSERS = {"markdown": parse_markdown, "text": parse_text, "html": parse_html, "pdf": parse_pdf}
