"""Turn a file (Markdown, text, HTML, PDF) into a Document of heading-tagged sections.

Loaders only parse; they never chunk or embed. Any parse problem is raised as LoaderError so
ingestion can report the file and carry on with the rest of the batch.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
from collections.abc import Callable, Iterator
from itertools import zip_longest
from pathlib import Path
from typing import Any

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
    return Document(_source(path), title or path.stem, sections, hashlib.sha256(data).hexdigest())


def _source(path: Path) -> str:
    """The resolved path, which is the document's key in the store. A name that is not UTF-8
    (Latin-1 "caf\xe9.md" on Linux) decodes to lone surrogates that no query can send, so it
    is a reported skip, not a crash of the whole batch at the first query."""
    source = str(path.resolve())
    try:
        source.encode("utf-8")
    except UnicodeEncodeError:
        raise LoaderError(f"file name is not UTF-8 ({os.fsencode(source)!r}); rename the file "
                          "to ingest it") from None
    return source


def _decode(data: bytes) -> str:
    # Anywhere, not just the first 4 KB: Postgres text cannot hold NUL, so a late one used to
    # abort the whole ingest at insert time.
    if b"\x00" in data:
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


_HEADING_CHARS = 500  # longer is an unclosed <h2> swallowing the page, not a heading


def _walk(root: Any) -> Iterator[tuple[bool, Any]]:
    """(True, node) as each node under `root` is entered, in document order, and (False, tag) as
    each tag is left. `descendants` is a flat walk and a stack of open tags gives the leave
    events: linear, and no recursion, so depth costs nothing (html.parser nests every unclosed
    <p> or <div>: `<div>x ` 16k times is 112 KB and 16k deep)."""
    from bs4 import Tag

    open_tags = [root]
    for node in root.descendants:
        while len(open_tags) > 1 and open_tags[-1] is not node.parent:
            yield False, open_tags.pop()
        yield True, node
        if isinstance(node, Tag):
            open_tags.append(node)
    while len(open_tags) > 1:
        yield False, open_tags.pop()


def _join_capped(strings: list[str], start: int, end: int, cap: int) -> str:
    """strings[start:end] joined by spaces and cut at `cap` characters, without reading past
    the cap: nested headings share one long tail of text, and each must cost O(cap), not O(tail)."""
    out: list[str] = []
    size = 0
    for i in range(start, end):
        if size >= cap:
            break
        out.append(strings[i][:cap - size])
        size += len(out[-1]) + 1
    return " ".join(out)[:cap].rstrip()


def _html_index(root: Any) -> tuple[dict[int, str], dict[int, list[str]]]:
    """One walk: each heading's text, and each table's rows as sentences, keyed by id(tag).

    Text is what get_text(" ", strip=True) gives, gathered as the walk passes instead of asked
    of every heading and table (which re-read nested ones: quadratic in depth). A string goes to
    the innermost cell and a cell to the innermost row, so a nested table's text is no longer
    repeated in the cells and rows around it; flat tables read as before."""
    from bs4 import CData, NavigableString, Tag

    strings: list[str] = []  # stripped text in document order; a heading is a range of it
    starts: dict[int, int] = {}
    headings: dict[int, str] = {}
    tables: dict[int, list[str]] = {}
    tables_rows: dict[int, list] = {}  # outermost tables still open
    # Per open tag: (rows of its outermost table, its innermost row, its innermost cell).
    # A row is a list of (is_th, cell strings).
    states: list[tuple[list | None, list | None, list | None]] = [(None, None, None)]
    for entering, node in _walk(root):
        if not entering:
            states.pop()
            if node.name in _HEAD:
                headings[id(node)] = _join_capped(strings, starts[id(node)], len(strings),
                                                  _HEADING_CHARS)
            elif node.name == "table" and id(node) in tables_rows:
                tables[id(node)] = _row_sentences(tables_rows.pop(id(node)))
            continue
        rows, row, cell = states[-1]
        if isinstance(node, Tag):
            if node.name in _HEAD:
                starts[id(node)] = len(strings)
            elif node.name == "table" and rows is None:
                rows = tables_rows[id(node)] = []
            elif node.name == "tr" and rows is not None:
                row = []
                rows.append(row)
            elif node.name in ("td", "th") and row is not None:
                cell = []
                row.append((node.name == "th", cell))
            states.append((rows, row, cell))
        elif type(node) in (NavigableString, CData) and (text := node.strip()):
            strings.append(text)
            if cell is not None:
                cell.append(text)
    return headings, tables


def _row_sentences(rows: list[list[tuple[bool, list[str]]]]) -> list[str]:
    text = [[" ".join(cell) for _, cell in row] for row in rows]
    # A header row is a first row with a <th> in it.
    has_header = bool(rows) and any(is_th for is_th, _ in rows[0])
    return table_sentences(text[0], text[1:]) if has_header else table_sentences([], text)


def parse_html(data: bytes, path: Path) -> tuple[str, list[Section]]:
    from bs4 import BeautifulSoup, NavigableString, Tag

    soup = BeautifulSoup(_decode(data), "html.parser")
    title = soup.title.get_text(" ", strip=True) if soup.title else ""
    root = soup.body or soup
    heading_text, table_text = _html_index(root)
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

    # Per open tag: (is its text skipped, is it inside a table), carried down the walk instead of
    # asked of every node's ancestors. Text is skipped inside a heading (already used),
    # script/style and the like, or a table (already written as row sentences).
    above = [root, *root.parents]
    states = [(any(_mutes(t.name) for t in above), any(t.name == "table" for t in above))]
    for entering, node in _walk(root):
        if not entering:
            states.pop()
            continue
        muted, in_table = states[-1]
        if isinstance(node, Tag):
            if node.name in _HEAD:
                flush()
                level, text = _HEAD[node.name], heading_text[id(node)]
                while stack and stack[-1][0] >= level:
                    stack.pop()
                if level == 1 and not title:
                    title = text
                elif not (level == 1 and text == title):
                    stack.append((level, text))
            elif node.name == "table" and not in_table:
                buf.append(_PARAGRAPH + _PARAGRAPH.join(table_text[id(node)]) + _PARAGRAPH)
            elif node.name in _BLOCK:
                buf.append("\n")
            states.append((muted or _mutes(node.name), in_table or node.name == "table"))
        elif type(node) is NavigableString and not muted:
            buf.append(str(node))
    flush()
    return title, sections


def _mutes(name: str) -> bool:
    return name in _HEAD or name in _SKIP or name == "table"


def parse_pdf(data: bytes, path: Path) -> tuple[str, list[Section]]:
    from pypdf import PdfReader

    reader = PdfReader(io.BytesIO(data))
    if reader.is_encrypted and not reader.decrypt(""):
        raise LoaderError("encrypted PDF")
    # NULs come from the PDF's text encoding (a UTF-16 title read as Latin-1), not from the
    # content; Postgres text cannot hold them, so drop them rather than the whole file.
    meta_title = ((reader.metadata.title if reader.metadata else None) or "").replace("\x00", "")
    # PDFs carry no reliable heading structure; each page is a section with no heading path.
    pages = [Section([], (page.extract_text() or "").replace("\x00", "").strip())
             for page in reader.pages]
    first_line = next((s.text.split("\n", 1)[0].strip() for s in pages if s.text), "")
    return meta_title.strip() or first_line[:100] or path.stem, pages


_PARSERS = {"markdown": parse_markdown, "text": parse_text, "html": parse_html, "pdf": parse_pdf}
