from rag.chunking import chunk_document, split_sentences
from rag.types import Document, Section


def _doc(sections):
    return Document("/docs/a.md", "Guide", sections, "h1")


def test_sentences_respect_abbreviations_and_lists():
    text = "Dr. Smith et al. found it. See Fig. 2 for e.g. this!\n\n- item one\n- item two"
    assert split_sentences(text) == ["Dr. Smith et al. found it.", "See Fig. 2 for e.g. this!",
                                     "- item one", "- item two"]


def test_sentences_in_a_chunk_end_before_list_items_bold_and_code():
    # A chunk joins its sentences and list items with spaces; an answer splits them again.
    text = ("Resume with one decision per action, in order. - **Approve** runs the call. "
            "- **Edit** runs it with new arguments. `make run` starts the server. It costs 5 - 3 dollars.")
    assert split_sentences(text) == ["Resume with one decision per action, in order.", "- **Approve** runs the call.",
                                     "- **Edit** runs it with new arguments.", "`make run` starts the server.",
                                     "It costs 5 - 3 dollars."]


def test_chunks_keep_headings_and_never_cross_sections():
    doc = _doc([Section(["Install"], "Run the installer. It takes a minute."),
                Section(["Install", "Linux"], "Use apt. Then reboot.")])
    chunks = chunk_document(doc)
    assert [c.headings for c in chunks] == [["Install"], ["Install", "Linux"]]
    assert chunks[1].index_text.startswith("Guide > Install > Linux\n")
    assert [c.position for c in chunks] == [0, 1]
    assert all(c.source == "/docs/a.md" and c.title == "Guide" for c in chunks)


def test_sentence_boundaries_budget_and_overlap():
    sents = [f"Sentence number {i} has exactly seven words." for i in range(30)]
    chunks = chunk_document(_doc([Section([], " ".join(sents))]), max_words=50, overlap_words=10)
    assert len(chunks) > 3
    for c in chunks:
        assert len(c.text.split()) <= 50
        assert c.text.endswith(".") and c.text.startswith("Sentence")  # whole sentences only
    for a, b in zip(chunks, chunks[1:]):
        last = split_sentences(a.text)[-1]
        assert split_sentences(b.text)[0] == last  # one 7-word sentence of overlap
    assert len({c.chunk_id for c in chunks}) == len(chunks)


def test_overlong_sentence_is_split_by_words():
    chunks = chunk_document(_doc([Section([], "word " * 120)]), max_words=50, overlap_words=0)
    assert [len(c.text.split()) for c in chunks] == [50, 50, 20]


def test_chunk_ids_change_with_content():
    a = chunk_document(Document("s", "t", [Section([], "Hello there.")], "v1"))
    b = chunk_document(Document("s", "t", [Section([], "Hello there.")], "v2"))
    assert a[0].chunk_id != b[0].chunk_id
