"""serving.load_shed against a real local HTTP server that serves a vLLM-like /metrics text."""

from __future__ import annotations

import asyncio
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from evals.scripted_llm import free_port
from serving.load_shed import LoadShedder, ModelBusy, metrics_url, parse_metrics


def vllm_metrics(waiting: float, running: float = 4, kv: float = 0.4, *, engines: int = 1,
                 kv_name: str = "vllm:kv_cache_usage_perc", model: str = "Qwen/Qwen3-8B") -> str:
    """The shape vLLM's v1 engine exports (one series per engine), plus unrelated families."""
    lines = ["# HELP python_gc_objects_collected_total Objects collected during gc",
             "# TYPE python_gc_objects_collected_total counter",
             'python_gc_objects_collected_total{generation="0"} 812.0']
    for name, value in (("vllm:num_requests_running", running), ("vllm:num_requests_waiting", waiting),
                        (kv_name, kv)):
        lines += [f"# HELP {name} vLLM gauge", f"# TYPE {name} gauge"]
        lines += [f'{name}{{engine="{e}",model_name="{model}"}} {value / (engines if name != kv_name else 1)}'
                  for e in range(engines)]
    lines += ["# HELP vllm:prompt_tokens_total Prompt tokens", "# TYPE vllm:prompt_tokens_total counter",
              f'vllm:prompt_tokens_total{{engine="0",model_name="{model}"}} 12345.0']
    return "\n".join(lines) + "\n"


class MetricsServer:
    """A tiny vLLM stand-in: GET /metrics returns `self.body`; counts scrapes; can 404 or stall."""

    def __init__(self) -> None:
        self.body = vllm_metrics(0)
        self.status = 200
        self.delay_s = 0.0
        self.scrapes = 0
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server API
                if self.path != "/metrics":
                    self.send_error(404)
                    return
                server.scrapes += 1
                time.sleep(server.delay_s)
                data = server.body.encode()
                self.send_response(server.status)
                self.send_header("Content-Type", "text/plain; version=0.0.4")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:  # what agentdesk is configured with: the OpenAI API base
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"

    def __enter__(self) -> MetricsServer:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def vllm():
    with MetricsServer() as srv:
        yield srv


async def test_idle_server_passes(vllm):
    shed = LoadShedder(max_waiting=8)
    await shed.check(vllm.base_url)  # no exception
    load = await shed.load(vllm.base_url)
    assert (load.waiting, load.running, load.kv_cache_usage) == (0, 4, 0.4)


async def test_long_queue_raises_model_busy_with_retry_after(vllm):
    vllm.body = vllm_metrics(waiting=20, running=64)
    shed = LoadShedder(max_waiting=8, drain_s_per_request=0.5, min_retry_s=1, max_retry_s=30)
    with pytest.raises(ModelBusy) as err:
        await shed.check(vllm.base_url)
    busy = err.value
    assert busy.retry_after_s == 7  # 1 + (20 - 8) * 0.5
    assert "20 requests waiting > 8" in busy.reason and "64 running" in busy.reason
    assert str(busy).endswith("retry in 7 s") and busy.base_url == vllm.base_url
    assert busy.load.waiting == 20


async def test_threshold_is_exclusive_and_retry_after_is_clamped(vllm):
    vllm.body = vllm_metrics(waiting=8)
    await LoadShedder(max_waiting=8).check(vllm.base_url)
    vllm.body = vllm_metrics(waiting=10_000)
    with pytest.raises(ModelBusy) as err:
        await LoadShedder(max_waiting=8, max_retry_s=30).check(vllm.base_url)
    assert err.value.retry_after_s == 30


async def test_queue_is_summed_over_data_parallel_engines(vllm):
    vllm.body = vllm_metrics(waiting=12, engines=4)  # 3 per engine
    with pytest.raises(ModelBusy):
        await LoadShedder(max_waiting=10).check(vllm.base_url)


async def test_full_kv_cache_sheds_only_when_requests_wait(vllm):
    vllm.body = vllm_metrics(waiting=0, kv=0.99)
    await LoadShedder(max_waiting=8).check(vllm.base_url)  # full but nothing queued: fine
    vllm.body = vllm_metrics(waiting=2, kv=0.99)
    with pytest.raises(ModelBusy, match="KV cache 99% full"):
        await LoadShedder(max_waiting=8).check(vllm.base_url)
    await LoadShedder(max_waiting=8, max_kv_cache_usage=None).check(vllm.base_url)


async def test_older_gpu_cache_metric_name_is_read(vllm):
    vllm.body = vllm_metrics(waiting=3, kv=0.995, kv_name="vllm:gpu_cache_usage_perc")
    with pytest.raises(ModelBusy, match="KV cache"):
        await LoadShedder(max_waiting=8).check(vllm.base_url)


async def test_one_scrape_per_ttl_however_many_callers(vllm):
    shed = LoadShedder(max_waiting=8, cache_ttl_s=0.5)
    vllm.delay_s = 0.05  # concurrent callers arrive while the first scrape is in flight
    await asyncio.gather(*(shed.check(vllm.base_url) for _ in range(50)))
    assert vllm.scrapes == 1
    await shed.check(vllm.base_url)
    assert vllm.scrapes == 1
    await asyncio.sleep(0.6)
    vllm.body = vllm_metrics(waiting=50)  # the new scrape sees the new queue
    with pytest.raises(ModelBusy):
        await shed.check(vllm.base_url)
    assert vllm.scrapes == 2


@pytest.mark.parametrize("fault", ["http_500", "not_vllm", "slow", "down"])
async def test_unreadable_metrics_fail_open_and_are_cached(vllm, fault):
    shed = LoadShedder(max_waiting=0, scrape_timeout_s=0.2, cache_ttl_s=5)
    vllm.body = vllm_metrics(waiting=5)  # would shed, if it could be read
    url = vllm.base_url
    if fault == "http_500":
        vllm.status = 500
    elif fault == "not_vllm":
        vllm.body = "# TYPE up gauge\nup 1\n"
    elif fault == "slow":
        vllm.delay_s = 1.0
    else:
        url = f"http://127.0.0.1:{free_port()}/v1"  # nothing listens there
    await shed.check(url)  # lets the call through: the gateway's breaker handles dead endpoints
    assert await shed.load(url) is None
    scrapes = vllm.scrapes
    await shed.check(url)
    assert vllm.scrapes == scrapes  # the failure is cached too: no hammering


async def test_model_filter_counts_only_that_model(vllm):
    vllm.body = vllm_metrics(waiting=30, model="Qwen/Qwen3-1.7B")
    await LoadShedder(max_waiting=8, model="Qwen/Qwen3-8B").check(vllm.base_url)  # fail open
    with pytest.raises(ModelBusy):
        await LoadShedder(max_waiting=8, model="Qwen/Qwen3-1.7B").check(vllm.base_url)


def test_sync_check_shares_the_behaviour(vllm):
    shed = LoadShedder(max_waiting=4)
    shed.check_sync(vllm.base_url)
    vllm.body = vllm_metrics(waiting=9)
    shed.check_sync(vllm.base_url)  # still the cached idle scrape
    time.sleep(1.05)
    with pytest.raises(ModelBusy) as err:
        shed.check_sync(vllm.base_url)
    assert err.value.retry_after_s == 4  # 1 + 5 * 0.5 = 3.5, rounded up


def test_metrics_url_and_parser():
    assert metrics_url("http://gpu:8000/v1") == "http://gpu:8000/metrics"
    assert metrics_url("http://gpu:8000/v1/") == "http://gpu:8000/metrics"
    assert metrics_url("http://gpu:8000") == "http://gpu:8000/metrics"
    load = parse_metrics(vllm_metrics(waiting=6, running=8, kv=0.5, engines=2))
    assert (load.waiting, load.running, load.kv_cache_usage) == (6, 8, 0.5)
    with pytest.raises(ValueError):
        parse_metrics("# TYPE up gauge\nup 1\n")
