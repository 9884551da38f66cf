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
