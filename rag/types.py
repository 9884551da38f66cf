"""Plain records shared by the RAG modules (kept here so modules don't import each other in circles)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class Section:
    """A run of text under one heading path (e.g. ["Install", "Linux"])."""

    headings: list[str]
    text: str


@dataclass
class Document:
    source: str  # absolute path (or corpus id in evals); the idempotency key
    title: str
    sections: list[Section]
    content_hash: str = ""


@dataclass
class Chunk:
    chunk_id: str
    source: str
    title: str
    position: int  # 0-based order of the chunk inside its document
    headings: list[str]
    text: str  # what is shown and cited

    @property
    def index_text(self) -> str:
        """What BM25 and the encoder see: title and heading path give short chunks their context."""
        head = " > ".join([self.title, *self.headings])
        return f"{head}\n{self.text}" if head else self.text


@dataclass
class Hit:
    chunk_id: str
    source: str
    title: str
    position: int
    text: str
    score: float
    headings: list[str] = field(default_factory=list)  # the chunk's heading path inside its document

    @property
    def section(self) -> str:
        """The heading path as a citation shows it ("Approvals › Resume"), or ""."""
        return " › ".join(self.headings)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def of(cls, h: "Hit | dict[str, Any]") -> "Hit":
        # Dicts saved before `headings` existed (checkpointed state) lack it; it defaults.
        return h if isinstance(h, Hit) else cls(**{k: h[k] for k in cls.__dataclass_fields__ if k in h})


@dataclass
class SearchResult:
    hits: list[Hit]
    notes: list[str] = field(default_factory=list)
