"""PromQL read without evaluating it: range selectors against the window cap, metric names for the
own-metrics fallback. Both see through strings and label matchers."""

from __future__ import annotations

import random
import time

import pytest

from agents.devops.promql import METRIC_NAME, PromQLProblem, check_ranges, metric_names, range_selectors
from agents.devops.signals import SignalError

WEEK = 7 * 86400


@pytest.mark.parametrize("query, names", [
    ("up == 0", ["up"]),
    ("vector(1)", []),
    ("time() - 5", []),
    ('sum by (pod, service) (rate(http_requests_total{status=~"5..", path=~"/a[0-9]"}[5m]))'
     " / ignoring(status) sum without (le) (rate(x_total[5m]))", ["http_requests_total", "x_total"]),
    ('{__name__="agentdesk_runs_total", graph="orchestrator"}', ["agentdesk_runs_total"]),
    ("histogram_quantile(0.95, sum by (le) (rate(h_bucket[5m]))) > bool 0.5 offset 1d", ["h_bucket"]),
    ("a AND b Or NaN unless Inf", ["a", "b"]),
    ('label_replace(up, "dst", "$1", "src", "(.*)")', ["up"]),
    ("agentdesk:ratio:rate5m * 1e3 + 0x1F", ["agentdesk:ratio:rate5m"]),
])
def test_metric_names(query, names):
    assert metric_names(query) == names


@pytest.mark.parametrize("query, ranges", [
    ("rate(x[5m])", [(300, None)]),
    ("max_over_time(x[1h30m:15s])", [(5400, 15)]),
    ("avg_over_time(x[1h:])", [(3600, None)]),
    ("rate(x[300])", [(300.0, None)]),
    ('x{path=~"/a[0-9]{2}"}', []),  # brackets inside a string are not selectors
    ('x{path=~"/a[0-9]"}[2d]', [(172800, None)]),
])
def test_range_selectors(query, ranges):
    assert range_selectors(query) == ranges


@pytest.mark.parametrize("query, problem", [
    ("metric[10y]", "reaches back more than 7 days"),
    ("sum(rate(x[8d]))", "reaches back more than 7 days"),
    ("max_over_time(x[1d:1s])", "more than 11,000 points"),
    ("rate(x[5m*2])", "not a plain duration"),
    ("rate(x[])", "not a plain duration"),
])
def test_ranges_past_the_caps_are_refused(query, problem):
    with pytest.raises(PromQLProblem, match=problem) as err:
        check_ranges(query, WEEK, 11_000)
    assert isinstance(err.value, SignalError)  # the tools report it like any bad query


def test_ranges_within_the_caps_pass():
    check_ranges('sum(rate(x{a="[9y]"}[7d])) + max_over_time(y[1h:1s])', WEEK, 11_000)


@pytest.mark.parametrize("match, ok", [("http_requests", True), ("agentdesk:ratio", True), ("a.b", False),
                                       ("a-b", False), ("a b", False), ("$", False), ("", False)])
def test_match_is_part_of_a_metric_name(match, ok):
    assert bool(METRIC_NAME.match(match)) is ok


def test_hostile_queries_are_read_in_linear_time():
    rng = random.Random(0)
    alphabet = '[]{}()"\'`\\:=~,.5mhdsy abc_ by on( offset '
    worst = 0.0
    for n in range(20_000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 60)))
        if n % 1000 == 0:  # and some long runs of one character
            text = rng.choice(alphabet) * 50_000
        started = time.perf_counter()
        metric_names(text)
        try:
            check_ranges(text, WEEK, 11_000)
        except PromQLProblem:
            pass
        worst = max(worst, time.perf_counter() - started)
    assert worst < 0.5
