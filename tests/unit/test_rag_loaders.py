from pathlib import Path

import pytest

from rag.loaders import LoaderError, load


def _pdf(path: Path, text: str, title: str = "Tiny PDF") -> None:
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
    w.add_metadata({"/Title": title})
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


def test_markdown_table_rows_become_sentences(tmp_path):
    p = tmp_path / "tiers.md"
    p.write_text("# Tiers\nWho approves what.\n\n| tier | approval |\n|---|:--:|\n| low | none |\n"
                 "| high | a reviewer, in `a\\|b` order |\n\nAfter the table.\n\n"
                 "```\n| not | a table |\n|---|---|\n```\n")
    text = load(p).sections[0].text
    assert "Tier: low; approval: none." in text
    assert "Tier: high; approval: a reviewer, in `a|b` order." in text  # an escaped pipe is text
    assert "|---|:--:|" not in text and "After the table." in text
    assert "| not | a table |\n|---|---|" in text  # a table inside a code fence stays code
    from rag.chunking import chunk_document, split_sentences

    # One row, one sentence: in the section, and again in a chunk, whose sentences are joined by spaces.
    (chunk,) = chunk_document(load(p))
    for sents in (split_sentences(text), split_sentences(chunk.text)):
        assert sents[:3] == ["Who approves what.", "Tier: low; approval: none.",
                             "Tier: high; approval: a reviewer, in `a|b` order."]


def test_html_table_cells_do_not_run_together(tmp_path):
    h = tmp_path / "limits.html"
    h.write_text("<html><body><h1>Limits</h1><p>Per tier.</p><table><tr><th>tier</th><th>approval</th></tr>"
                 "<tr><td>low</td><td>none</td></tr><tr><td>high</td><td>a reviewer</td></tr></table>"
                 "<table><tr><td>plain</td><td>cells</td></tr></table></body></html>")
    text = load(h).sections[0].text
    assert text.split("\n\n") == ["Per tier.", "Tier: low; approval: none.", "Tier: high; approval: a reviewer.",
                                  "Plain; cells."]


def test_a_long_line_of_spaces_with_a_pipe_loads_fast(tmp_path):
    # The first delimiter-row regex backtracked quadratically here: 83 s for 100k spaces.
    import time

    p = tmp_path / "odd.md"
    p.write_text("| a | b |\n" + " " * 100_000 + "|-x\n" + "|-" + " " * 100_000 + "x\nText after.\n")
    started = time.perf_counter()
    doc = load(p)
    assert time.perf_counter() - started < 5
    assert "Text after." in doc.sections[0].text


def test_html_with_a_long_run_of_no_break_spaces_loads_fast(tmp_path):
    # `\s*\n\s*` backtracked quadratically on runs of whitespace other than spaces and tabs.
    import time

    h = tmp_path / "nbsp.html"
    h.write_text("<html><body><p>Before.</p>" + "\xa0" * 100_000 + "<p>After.</p>\n\n<p>End.</p></body></html>")
    started = time.perf_counter()
    text = load(h).sections[0].text
    assert time.perf_counter() - started < 5
    assert text == "Before.\nAfter.\nEnd."  # source newlines are layout, not paragraph breaks


def test_a_nul_anywhere_in_a_text_file_is_binary(tmp_path):
    # Only the first 4 KB were checked: a later NUL reached Postgres and aborted the whole ingest.
    for name in ("late.md", "late.txt", "late.html"):
        p = tmp_path / name
        p.write_bytes(b"# Notes\n" + b"Plain text. " * 1000 + b"\x00 and more text.\n")
        with pytest.raises(LoaderError, match="binary"):
            load(p)


def test_a_pdf_title_with_nul_bytes_loads_without_them(tmp_path):
    p = tmp_path / "nul.pdf"
    _pdf(p, "Quarterly revenue grew.", title="Tiny\x00PDF")  # Postgres text cannot hold NUL
    doc = load(p)
    assert doc.title == "TinyPDF" and "\x00" not in doc.sections[0].text


def test_a_file_name_that_is_not_utf8_is_a_clear_error(tmp_path):
    # A Latin-1 name decodes to lone surrogates, which crashed the run at the first query.
    import os
    import sys

    if sys.platform != "linux":
        pytest.skip("needs a file system that takes any bytes as a name")
    p = tmp_path / os.fsdecode(b"caf\xe9.md")
    p.write_text("# Menu\nCoffee.\n")
    with pytest.raises(LoaderError, match=r"file name is not UTF-8 \(b'.*caf\\xe9\.md'\)"):
        load(p)


def _loads_fast(path, html: str, seconds: float = 5.0):
    import time

    path.write_text(html)
    started = time.perf_counter()
    doc = load(path)
    assert time.perf_counter() - started < seconds
    return doc


def test_deeply_nested_html_loads_in_linear_time(tmp_path):
    # html.parser nests every unclosed tag; walking each text node's ancestors, each table's
    # and each heading's subtree was quadratic in depth: 16 s for this 112 KB <div> file,
    # 26 s for the nested cells.
    doc = _loads_fast(tmp_path / "divs.html", "<div>x " * 16_000)
    assert doc.sections[0].text == "\n".join(["x"] * 16_000)
    doc = _loads_fast(tmp_path / "paras.html", "<html><body>" + "<p>Some text here. " * 10_000)
    assert doc.sections[0].text.count("Some text here.") == 10_000
    doc = _loads_fast(tmp_path / "cells.html", "<table><tr>" + "<td>x " * 8_000 + "</table>")
    assert doc.sections[0].text == "; ".join(["X"] + ["x"] * 7_999) + "."
    doc = _loads_fast(tmp_path / "rows.html", "<table>" + "<tr><td>x " * 8_000 + "</table>")
    assert doc.sections[0].text == "\n\n".join(["X."] * 8_000)
    table = "<table><tr><td>cell</td></tr></table>"
    doc = _loads_fast(tmp_path / "heads.html", "<h2>x " * 8_000 + table)
    assert [(s.headings, s.text) for s in doc.sections] == [(["x cell"], "Cell.")]
    doc = _loads_fast(tmp_path / "long.html", "<h2>" + "word " * 8_000 + table)
    assert 0 < len(doc.sections[0].headings[0]) <= 500  # an unclosed <h2> is not a 40 KB heading


def test_a_nested_html_table_is_not_repeated_in_the_outer_one(tmp_path):
    h = tmp_path / "nested.html"
    h.write_text("<table><tr><td>outer<table><tr><td>a</td><td>b</td></tr></table></td>"
                 "<td>next</td></tr></table>")
    # Each string belongs to its innermost cell; get_text on the outer cell gave "outer a b".
    assert load(h).sections[0].text.split("\n\n") == ["Outer; next.", "A; b."]
