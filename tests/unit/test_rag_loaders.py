from pathlib import Path

import pytest

from rag.loaders import LoaderError, load


def _pdf(path: Path, text: str) -> None:
    """A tiny valid one-page PDF with `text`, built with pypdf (no fixtures on disk)."""
    from pypdf import PdfWriter
    from pypdf.generic import DecodedStreamObject, DictionaryObject, NameObject

    w = PdfWriter()
    page = w.add_blank_page(width=300, height=200)
    font = DictionaryObject({NameObject("/Type"): NameObject("/Font"),
                             NameObject("/Subtype"): NameObject("/Type1"),
                             NameObject("/BaseFont"): NameObject("/Helvetica")})
    page[NameObject("/Resources")] = DictionaryObject({NameObject("/Font"): DictionaryObject(
        {NameObject("/F1"): w._add_object(font)})})
    stream = DecodedStreamObject()
    stream.set_data(f"BT /F1 12 Tf 20 150 Td ({text}) Tj ET".encode())
    page[NameObject("/Contents")] = w._add_object(stream)
    w.add_metadata({"/Title": "Tiny PDF"})
    with path.open("wb") as f:
        w.write(f)


def test_markdown_headings(tmp_path):
    p = tmp_path / "guide.md"
    p.write_text("# Guide\nIntro text.\n## Setup\nDo this.\n```\n# not a heading\n```\n"
                 "### Linux\nUse apt.\n## Usage\nRun it.\n")
    doc = load(p)
    assert doc.title == "Guide"
    assert [s.headings for s in doc.sections] == [[], ["Setup"], ["Setup", "Linux"], ["Usage"]]
    assert "# not a heading" in doc.sections[1].text
    assert doc.source == str(p.resolve()) and len(doc.content_hash) == 64


def test_text_and_html(tmp_path):
    t = tmp_path / "notes.txt"
    t.write_text("Release notes\n\nVersion 2 fixes the cache.")
    assert load(t).title == "Release notes"
    h = tmp_path / "page.html"
    h.write_text("<html><head><title>Runbook</title><style>p{}</style></head><body>"
                 "<h1>Runbook</h1><p>Restart the <b>worker</b>.</p><h2>Checks</h2>"
                 "<ul><li>CPU below 80%</li><li>Disk ok</li></ul><script>x()</script></body></html>")
    doc = load(h)
    assert doc.title == "Runbook"
    assert [s.headings for s in doc.sections] == [[], ["Checks"]]
    assert doc.sections[0].text == "Restart the worker."
    assert "CPU below 80%" in doc.sections[1].text and "x()" not in doc.sections[1].text


def test_pdf_and_corrupt_pdf(tmp_path):
    good = tmp_path / "good.pdf"
    _pdf(good, "Quarterly revenue grew by nine percent.")
    doc = load(good)
    assert doc.title == "Tiny PDF"
    assert "Quarterly revenue grew" in doc.sections[0].text
    bad = tmp_path / "bad.pdf"
    bad.write_bytes(b"%PDF-1.4\nthis is not really a pdf\n%%EOF")
    with pytest.raises(LoaderError):
        load(bad)


def test_unsupported_and_binary(tmp_path):
    with pytest.raises(LoaderError, match="unsupported"):
        load(tmp_path / "x.docx")
    b = tmp_path / "bin.txt"
    b.write_bytes(b"\x00\x01\x02")
    with pytest.raises(LoaderError, match="binary"):
        load(b)
