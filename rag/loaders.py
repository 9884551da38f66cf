"""Turn a file (Markdown, text, HTML, PDF) into a Document of heading-tagged sections.

Loaders only parse; they never chunk or embed. Any parse problem is raised as LoaderError so
ingestion can report the file and carry on with the rest of the batch.
"""

from __future__ import annotations

import hashlib
import io
import re
from collections.abc import Callable
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


_ATX = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_FENCE = re.compile(r"^\s*(```|~~~)")


def parse_markdown(data: bytes, path: Path) -> tuple[str, list[Section]]:
    stack: list[tuple[int, str]] = []  # (level, heading) of the current heading path
    sections: list[Section] = []
    buf: list[str] = []
    title = ""
    in_fence = False

    def flush() -> None:
        if buf:
            sections.append(Section([h for _, h in stack], "\n".join(buf).strip()))
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
        text = re.sub(r"[ \t]+", " ", "".join(buf))
        text = re.sub(r"\s*\n\s*", "\n", text).strip()
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
            elif node.name in _BLOCK:
                buf.append("\n")
        elif isinstance(node, NavigableString) and type(node) is NavigableString:
            # Skip text that belongs to a heading (already used) or to script/style.
            if not any(p.name in _HEAD or p.name in _SKIP for p in node.parents):
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
