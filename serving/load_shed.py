"""Load shedding in front of vLLM: answer "busy, retry in N s" instead of piling up requests.

vLLM queues every request it cannot schedule; a queue that keeps growing means each new request
waits longer than the client's timeout, is retried, and adds to the queue again. The gateway calls
`await LoadShedder().check(base_url)` before a model call; it reads vLLM's Prometheus `/metrics`
(scraped at most once per `cache_ttl_s` per endpoint, shared by all concurrent callers) and raises
`ModelBusy(retry_after_s, reason)` when the queue or the KV cache is past its limit.

Metrics read (vLLM v1 engine; summed over engines/data-parallel ranks, filtered by model name):
  vllm:num_requests_waiting   requests queued, not yet scheduled        -> shed above max_waiting
  vllm:num_requests_running   requests being decoded                     -> reported
  vllm:kv_cache_usage_perc    KV-cache use 0..1 (vLLM >= 0.10; older: vllm:gpu_cache_usage_perc)
                                                                          -> shed above max_kv_cache_usage
The shedder fails open: if /metrics cannot be read it lets the call through, because the
gateway's timeouts, retries and circuit breaker already handle a dead endpoint.
"""

from __future__ import annotations

import asyncio
import logging
import math
import threading
import time
from dataclasses import dataclass

import httpx
from prometheus_client.parser import text_string_to_metric_families

from serving.tls import client_context

log = logging.getLogger(__name__)

WAITING = "vllm:num_requests_waiting"
RUNNING = "vllm:num_requests_running"
KV_CACHE = ("vllm:kv_cache_usage_perc", "vllm:gpu_cache_usage_perc")  # new name first


class ModelBusy(RuntimeError):
    """The endpoint is overloaded; retry after `retry_after_s` seconds (an HTTP Retry-After)."""

    def __init__(self, retry_after_s: int, reason: str, *, base_url: str = "",
                 load: VllmLoad | None = None):
        self.retry_after_s = retry_after_s
        self.reason = reason
        self.base_url = base_url
        self.load = load
        super().__init__(f"model busy ({reason}); retry in {retry_after_s} s")


@dataclass(frozen=True)
class VllmLoad:
    waiting: float
    running: float
    kv_cache_usage: float | None  # 0..1, None when the server does not export it
    scraped_at: float  # time.monotonic()


def metrics_url(base_url: str) -> str:
    """`http://h:8000/v1` -> `http://h:8000/metrics` (vLLM serves /metrics at the root)."""
    url = base_url.rstrip("/")
    return (url[: -len("/v1")] if url.endswith("/v1") else url) + "/metrics"


def parse_metrics(text: str, model: str | None = None) -> VllmLoad:
    """Read the vLLM gauges from a Prometheus text exposition; `model` filters on `model_name`.

    Queue gauges are summed over engines (data-parallel ranks each export their own series);
    KV-cache usage is their mean, since each engine has its own cache.
    """
    sums: dict[str, float] = {}
    counts: dict[str, int] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name not in (WAITING, RUNNING, *KV_CACHE):
                continue
            if model is not None and sample.labels.get("model_name", model) != model:
                continue
            sums[sample.name] = sums.get(sample.name, 0.0) + sample.value
            counts[sample.name] = counts.get(sample.name, 0) + 1
    if WAITING not in sums:
        raise ValueError(f"no {WAITING} in /metrics (not a vLLM server, or another model)")
    kv = next((sums[n] / counts[n] for n in KV_CACHE if n in sums), None)
    return VllmLoad(waiting=sums[WAITING], running=sums.get(RUNNING, 0.0), kv_cache_usage=kv,
                    scraped_at=time.monotonic())


class LoadShedder:
    """Sheds load per endpoint from vLLM's own queue metrics. Thread- and task-safe; no settings.

    max_waiting:        shed when more requests than this are queued (vLLM schedules up to
                        --max-num-seqs at once; a short queue is normal, a long one is overload)
    max_kv_cache_usage: shed when the KV cache is this full and requests are queued (new requests
                        would preempt running ones); None disables
    cache_ttl_s:        reuse one scrape this long, so every call does not hit /metrics
    scrape_timeout_s:   /metrics must answer fast; a slow scrape counts as unreadable (fail open)
    drain_s_per_request, min_retry_s, max_retry_s: the Retry-After estimate, see `retry_after`
    model:              only count series whose model_name is this (one server, several models)
    """

    def __init__(self, *, max_waiting: int = 16, max_kv_cache_usage: float | None = 0.98,
                 cache_ttl_s: float = 1.0, scrape_timeout_s: float = 0.5,
                 drain_s_per_request: float = 0.5, min_retry_s: int = 1, max_retry_s: int = 30,
                 model: str | None = None):
        self.max_waiting = max_waiting
        self.max_kv_cache_usage = max_kv_cache_usage
        self.cache_ttl_s = cache_ttl_s
        self.scrape_timeout_s = scrape_timeout_s
        self.drain_s_per_request = drain_s_per_request
        self.min_retry_s = min_retry_s
        self.max_retry_s = max_retry_s
        self.model = model
        # url -> (monotonic time of the scrape, load or None when it failed); failures are cached
        # too, so a dead /metrics is not hammered either.
        self._cache: dict[str, tuple[float, VllmLoad | None]] = {}
        self._async_locks: dict[tuple[int, str], asyncio.Lock] = {}  # per event loop and url
        self._thread_lock = threading.Lock()

    # -- public API ---------------------------------------------------------------------------
    async def check(self, base_url: str) -> None:
        """Raise ModelBusy if `base_url`'s vLLM is overloaded; return otherwise."""
        self._judge(base_url, await self.load(base_url))

    def check_sync(self, base_url: str) -> None:
        """`check` for synchronous callers (shares the same cache)."""
        self._judge(base_url, self.load_sync(base_url))

    async def load(self, base_url: str) -> VllmLoad | None:
        """The (cached) load of `base_url`, or None when /metrics could not be read."""
        url = metrics_url(base_url)
        if (hit := self._fresh(url)) is not None:
            return hit[1]
        key = (id(asyncio.get_running_loop()), url)
        lock = self._async_locks.setdefault(key, asyncio.Lock())
        async with lock:  # single flight: one scrape per TTL however many callers wait
            if (hit := self._fresh(url)) is not None:
                return hit[1]
            try:
                async with httpx.AsyncClient(timeout=self.scrape_timeout_s, verify=client_context()) as client:
                    resp = await client.get(url)
                    resp.raise_for_status()
                return self._store(url, resp.text)
            except (httpx.HTTPError, ValueError) as exc:
                return self._store_failure(url, exc)

    def load_sync(self, base_url: str) -> VllmLoad | None:
        url = metrics_url(base_url)
        if (hit := self._fresh(url)) is not None:
            return hit[1]
        with self._thread_lock:
            if (hit := self._fresh(url)) is not None:
                return hit[1]
            try:
                resp = httpx.get(url, timeout=self.scrape_timeout_s, verify=client_context())
                resp.raise_for_status()
                return self._store(url, resp.text)
            except (httpx.HTTPError, ValueError) as exc:
                return self._store_failure(url, exc)

    def retry_after(self, load: VllmLoad) -> int:
        """Seconds until the queue has likely drained below the limit, whole and clamped."""
        excess = max(0.0, load.waiting - self.max_waiting)
        estimate = self.min_retry_s + excess * self.drain_s_per_request
        return int(min(self.max_retry_s, max(self.min_retry_s, math.ceil(estimate))))

    # -- internals ----------------------------------------------------------------------------
    def _fresh(self, url: str) -> tuple[float, VllmLoad | None] | None:
        hit = self._cache.get(url)
        return hit if hit and time.monotonic() - hit[0] < self.cache_ttl_s else None

    def _store(self, url: str, text: str) -> VllmLoad:
        load = parse_metrics(text, self.model)
        self._cache[url] = (time.monotonic(), load)
        return load

    def _store_failure(self, url: str, exc: Exception) -> None:
        log.warning("load shedder: cannot read %s (%s: %s); letting calls through",
                    url, type(exc).__name__, exc)
        self._cache[url] = (time.monotonic(), None)
        return None

    def _judge(self, base_url: str, load: VllmLoad | None) -> None:
        if load is None:
            return  # fail open
        if load.waiting > self.max_waiting:
            raise ModelBusy(self.retry_after(load),
                            f"{load.waiting:g} requests waiting > {self.max_waiting} "
                            f"({load.running:g} running)", base_url=base_url, load=load)
        if (self.max_kv_cache_usage is not None and load.kv_cache_usage is not None
                and load.waiting > 0 and load.kv_cache_usage >= self.max_kv_cache_usage):
            raise ModelBusy(self.retry_after(load),
                            f"KV cache {load.kv_cache_usage:.0%} full with {load.waiting:g} waiting",
                            base_url=base_url, load=load)
