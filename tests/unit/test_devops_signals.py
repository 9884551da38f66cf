"""Pure parts of the signal layer: durations, LogQL building, own log reading."""

from __future__ import annotations

import json
import re
import time

import pytest

from agents.devops import signals
from agents.devops.signals import SignalError, default_step, logql, parse_duration


@pytest.mark.parametrize("text, seconds", [("30s", 30), ("15m", 900), ("1h30m", 5400), ("2d", 172800), ("500ms", 0.5)])
def test_parse_duration(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "5", "five minutes", "1h 30m", "8d", "0s", "-5m"])
def test_bad_durations_are_refused_with_a_hint(text):
    with pytest.raises(SignalError, match="duration"):
        parse_duration(text)


def test_default_step_keeps_range_queries_small():
    assert default_step(60) == 1
    assert 3600 / default_step(3600) <= signals.MAX_POINTS


def test_logql_from_simple_filters():
    q = logql('{service="api"}', contains="timeout", level="error")
    assert q.startswith('{service="api"} |= "timeout" |~ ')
    pattern = json.loads(q.split(" |~ ", 1)[1])
    # The level filter is format-agnostic: JSON and logfmt lines match, other levels do not.
    assert re.search(pattern, '{"level": "error", "msg": "x"}')
    assert re.search(pattern, "ts=1 level=ERROR msg=x")
    assert not re.search(pattern, '{"level": "errors_total"}') and not re.search(pattern, "level=info")
    assert logql("") == '{job=~".+"}'


def test_own_logs_newest_first_with_level_and_window(settings_env, tmp_path):
    settings_env(AGENTDESK_DATA_DIR=str(tmp_path))
    (tmp_path / "logs").mkdir()
    now = time.time()
    stamp = lambda t: time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(t))  # noqa: E731
    lines = [{"ts": stamp(now - 7200), "level": "error", "msg": "old"},
             {"ts": stamp(now - 60), "level": "error", "msg": "first"},
             {"ts": stamp(now - 30), "level": "info", "msg": "info"},
             {"ts": stamp(now - 10), "level": "error", "msg": "second"}]
    (tmp_path / "logs" / "agentdesk.jsonl").write_text("\n".join(map(json.dumps, lines)) + "\nnot json\n")
    assert [r["msg"] for r in signals.own_logs(level="error", window_s=3600)] == ["second", "first"]
    assert [r["msg"] for r in signals.own_logs(limit=1)] == ["second"]


def test_own_log_search_reads_the_values_not_the_json(settings_env, tmp_path):
    settings_env(AGENTDESK_DATA_DIR=str(tmp_path))
    (tmp_path / "logs").mkdir()
    lines = [{"ts": "2026-01-01T00:00:00.000Z", "level": "error", "msg": 'payment "X-1" failed: Zürich \\ down'},
             {"ts": "2026-01-01T00:00:01.000Z", "level": "info", "logger": "agents.sql", "msg": "all good",
              "exc": "Traceback ... TimeoutError: café"}]
    (tmp_path / "logs" / "agentdesk.jsonl").write_text("\n".join(map(json.dumps, lines)) + "\n")
    msgs = lambda **kw: [r["msg"] for r in signals.own_logs(**kw)]  # noqa: E731
    # Quotes, backslashes and non-ASCII text are escaped in the file; they match as written.
    assert msgs(contains='"X-1"') == [lines[0]["msg"]]
    assert msgs(contains="zürich \\ down") == [lines[0]["msg"]]
    assert msgs(contains="CAFÉ") == ["all good"]  # the exception text is searched too
    assert msgs(contains="agents.sql") == ["all good"]
    # Keys and the level are not text to search: "level" used to match every line.
    assert msgs(contains="level") == [] and msgs(contains="msg") == []
    # LogQL line filters are case-sensitive, as in Loki.
    assert msgs(line_filters=[("Zürich", True)]) == [lines[0]["msg"]]
    assert msgs(line_filters=[("zürich", True)]) == []
    assert msgs(line_filters=[("Zürich", False)]) == ["all good"]


@pytest.mark.parametrize("query, filters, ignored", [
    ('{app="api"} |= "timeout"', [("timeout", True)], '{app="api"}'),
    ('{app="api"} |= "a \\"b\\"" != `c\\d`', [('a "b"', True), ("c\\d", False)], '{app="api"}'),
    ('{app="api"} |= "x" | json | level="error"', [("x", True)], '{app="api"} | json | level="error"'),
    ('{app="api"} |~ "time.*out" |= "x"', [], '{app="api"} |~ "time.*out" |= "x"'),
    ('{app="api"}', [], '{app="api"}'),
    ("", [], ""),
])
def test_logql_without_loki_keeps_line_filters_and_names_the_rest(query, filters, ignored):
    assert signals.own_line_filters(query) == (filters, ignored)


def test_recent_events_count_only_the_window():
    from serving.metrics import RecentEvents

    events = RecentEvents()
    events._times.append(time.time() - 3600)  # an hour ago: history, not an alert
    assert events.count(900) == 0
    events.note()
    events.note()
    assert events.count(900) == 2 and events.count(7200) == 3
