from rag.answer import extractive_answer
from rag.types import Hit


def test_extractive_answer_cites_each_sentence():
    hits = [Hit("id-a", "/d/a.md", "A", 0, "Vacuum reclaims dead tuples. Unrelated words here. "
                "A long transaction blocks vacuum.", 2.0),
            {"chunk_id": "id-b", "source": "/d/b.md", "title": "B", "position": 3,
             "text": "Bloat grows when vacuum is blocked.", "score": 1.0}]
    text, cites = extractive_answer("What blocks vacuum?", hits)
    assert text == ("Vacuum reclaims dead tuples. [1] A long transaction blocks vacuum. [1] "
                    "Bloat grows when vacuum is blocked. [2]")
    assert cites == [
        {"n": 1, "chunk_id": "id-a", "source": "/d/a.md", "title": "A",
         "snippet": hits[0].text},
        {"n": 2, "chunk_id": "id-b", "source": "/d/b.md", "title": "B",
         "snippet": "Bloat grows when vacuum is blocked."}]
    assert extractive_answer("q", []) == ("", [])
