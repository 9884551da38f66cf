from rag.answer import extractive_answer
from rag.types import Hit


def test_extractive_answer_cites_each_sentence():
    hits = [Hit("id-a", "/d/a.md", "A", 0, "Vacuum reclaims dead tuples. Unrelated words here. "
                "A long transaction blocks vacuum.", 2.0, ["Maintenance", "Vacuum"]),
            {"chunk_id": "id-b", "source": "/d/b.md", "title": "B", "position": 3,
             "text": "Bloat grows when vacuum is blocked.", "score": 1.0}]
    text, cites = extractive_answer("What blocks vacuum?", hits)
    assert text == ("Vacuum reclaims dead tuples. [1] A long transaction blocks vacuum. [1] "
                    "Bloat grows when vacuum is blocked. [2]")
    assert cites == [
        {"n": 1, "chunk_id": "id-a", "source": "/d/a.md", "title": "A", "section": "Maintenance › Vacuum",
         "snippet": hits[0].text},
        # a hit saved as a dict before hits had headings still reads
        {"n": 2, "chunk_id": "id-b", "source": "/d/b.md", "title": "B", "section": "",
         "snippet": "Bloat grows when vacuum is blocked."}]
    assert extractive_answer("q", []) == ("", [])


def test_answer_from_a_table_quotes_the_matching_row(tmp_path):
    from rag.chunking import chunk_document
    from rag.loaders import load

    p = tmp_path / "limits.md"
    p.write_text("# Limits\n\n| setting | default | meaning |\n|---|---|---|\n"
                 "| `MAX_STEPS` | 6 | model calls per run |\n| `RUNS_PER_MINUTE` | 60 | runs per minute per user |\n")
    (chunk,) = chunk_document(load(p))
    hit = Hit(chunk.chunk_id, chunk.source, chunk.title, 0, chunk.text, 1.0)
    text, _ = extractive_answer("How many runs per minute may a user start?", [hit], sentences_per_chunk=1)
    assert text == "Setting: `RUNS_PER_MINUTE`; default: 60; meaning: runs per minute per user. [1]"


def test_quoted_sentences_lose_markup_and_their_own_markers():
    from rag.answer import quotable

    assert quotable("- **Edit** runs the call with the reviewer's arguments.") == \
        "Edit runs the call with the reviewer's arguments."
    assert quotable("Answers carry numbered citations `[1]` that map to chunks.") == \
        "Answers carry numbered citations `(1)` that map to chunks."
    assert quotable("2 ** 10 is 1024, and a_b__c stays.") == "2 ** 10 is 1024, and a_b__c stays."
    import time

    started = time.perf_counter()  # unclosed bold markers: was quadratic (80k characters, 14 s)
    assert quotable("**a " * 20_000) == ("**a " * 20_000).strip()
    assert time.perf_counter() - started < 2


def test_research_offline_answer_ranks_sentences_across_passages():
    from agents.research.offline import extractive

    citations = [
        {"n": 1, "title": "Vacuum", "section": "Autovacuum", "source": "/d/a.md", "snippet": "…",
         "text": "# Vacuum\nVacuum reclaims dead tuples in every table. A long transaction blocks vacuum from working."},
        {"n": 2, "title": "Bloat", "source": "/d/b.md", "snippet": "…",
         "text": "- **Bloat** grows when vacuum is blocked by long transactions."},
    ]
    # The later passage first when it shares more terms; a tie goes to the earlier passage.
    assert extractive("Why does bloat grow?", citations, max_sentences=1).startswith(
        "From the documents: Bloat grows when vacuum is blocked by long transactions. [2]\n")
    answer = extractive("What blocks vacuum? long transactions?", citations, max_sentences=2)
    assert answer.startswith("From the documents: A long transaction blocks vacuum from working. [1] "
                             "Bloat grows when vacuum is blocked by long transactions. [2]\n")
    assert answer.endswith("Sources:\n[1] Vacuum › Autovacuum — /d/a.md\n[2] Bloat — /d/b.md")
