"""Pre-flight check of an OpenAI-compatible (vLLM) endpoint before agentdesk uses it.

    python -m serving.vllm.check_endpoint --base-url http://gpu-box:8000/v1 [--model M] [--json]

Four checks, each with its own timeout, each PASS or FAIL with the reason:
  health      GET /health answers 200 (vLLM's liveness; at the server root, not under /v1)
  models      GET /v1/models lists the model (without --model, the first listed one is used)
  tool_call   one chat completion with a tool: the reply carries a parsed tool call whose
              arguments are valid JSON matching the tool's schema (needs --enable-auto-tool-choice
              and the right --tool-call-parser on the server)
  structured  one chat completion with response_format=json_schema: the content validates
Exit code 0 when all pass, 1 otherwise (2 for bad arguments), so scripts and CI can gate on it.
Plain httpx on purpose: a diagnostic must show the raw status and body, not a client's retries.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import asdict, dataclass, field
from typing import Any

import httpx
import jsonschema

# A tool the model cannot answer without: the prompt names the tool and its argument.
WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather for a city.",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string", "minLength": 1}},
            "required": ["city"],
            "additionalProperties": False,
        },
    },
}
# The same shape as agentdesk's router decision, so the check exercises what the router needs.
ROUTE_SCHEMA = {
    "type": "object",
    "properties": {
        "next": {"type": "string", "enum": ["research", "code", "data", "devops", "finish"]},
        "reason": {"type": "string"},
    },
    "required": ["next", "reason"],
    "additionalProperties": False,
}
# Short answers, no thinking: the check tests the serving path, not the model's reasoning.
_EXTRA = {"max_tokens": 256, "temperature": 0, "chat_template_kwargs": {"enable_thinking": False}}


@dataclass
class Check:
    name: str
    ok: bool
    detail: str
    elapsed_ms: int = 0


@dataclass
class Report:
    base_url: str
    model: str | None
    checks: list[Check] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return bool(self.checks) and all(c.ok for c in self.checks)

    def to_dict(self) -> dict[str, Any]:
        return {"base_url": self.base_url, "model": self.model, "ok": self.ok,
                "checks": [asdict(c) for c in self.checks]}


def split_base_url(base_url: str) -> tuple[str, str]:
    """`http://h:8000/v1` or `http://h:8000` -> (server root, OpenAI API base)."""
    url = base_url.rstrip("/")
    root = url[: -len("/v1")] if url.endswith("/v1") else url
    return root, root + "/v1"


class EndpointProblem(RuntimeError):
    """The endpoint does not answer `GET /models` with a model list."""


def served_models(base_url: str, *, timeout_s: float = 10.0, api_key: str | None = None) -> tuple[str, list[str]]:
    """(OpenAI API base, model ids it lists). Accepts the API base or, as people often give vLLM's
    address, the server root: `GET /models` answering 404 there is retried under /v1."""
    base = base_url.rstrip("/")
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    try:
        for api in [base] if base.endswith("/v1") else [base, base + "/v1"]:
            resp = httpx.get(api + "/models", timeout=timeout_s, headers=headers)
            if resp.status_code != 404:
                break
    except (httpx.InvalidURL, httpx.UnsupportedProtocol) as exc:  # InvalidURL is no HTTPError
        raise EndpointProblem(f"{base_url!r} is not an http(s) URL ({exc})") from None
    except httpx.HTTPError as exc:
        raise EndpointProblem(f"{base_url} does not answer GET /models ({type(exc).__name__}: {exc})") from None
    if resp.status_code != 200:
        hint = " (check AGENTDESK_LLM_API_KEY)" if resp.status_code in (401, 403) else ""
        raise EndpointProblem(f"{api} answered GET /models with HTTP {resp.status_code}{hint}")
    try:
        ids = [str(m["id"]) for m in resp.json()["data"]]
    except (ValueError, KeyError, TypeError):
        raise EndpointProblem(f"{api}/models is not an OpenAI model list: {resp.text[:200]!r}") from None
    if not ids:
        raise EndpointProblem(f"{api}/models lists no models")
    return api, ids


class _Fail(Exception):
    pass


def _json(resp: httpx.Response) -> Any:
    if resp.status_code != 200:
        raise _Fail(f"HTTP {resp.status_code}: {resp.text[:200]}")
    try:
        return resp.json()
    except ValueError:
        raise _Fail(f"response is not valid JSON: {resp.text[:120]!r}") from None


def _message(body: Any) -> dict:
    try:
        return body["choices"][0]["message"]
    except (KeyError, IndexError, TypeError):
        raise _Fail(f"no choices[0].message in reply: {json.dumps(body)[:200]}") from None


def _run(name: str, fn) -> Check:
    start = time.perf_counter()
    try:
        detail = fn()
        ok = True
    except _Fail as exc:
        ok, detail = False, str(exc)
    except httpx.TimeoutException as exc:
        ok, detail = False, f"timed out ({type(exc).__name__})"
    except httpx.HTTPError as exc:
        ok, detail = False, f"{type(exc).__name__}: {exc}"
    return Check(name, ok, detail, int((time.perf_counter() - start) * 1000))


def run_checks(base_url: str, model: str | None = None, *, timeout_s: float = 30.0,
               api_key: str | None = None) -> Report:
    """Run all four checks against `base_url`; never raises for endpoint faults."""
    root, api = split_base_url(base_url)
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    report = Report(base_url=base_url, model=model)
    with httpx.Client(timeout=timeout_s, headers=headers) as client:

        def health() -> str:
            resp = client.get(f"{root}/health")
            if resp.status_code != 200:
                raise _Fail(f"GET /health -> HTTP {resp.status_code}")
            return "GET /health -> 200"

        def models() -> str:
            data = _json(client.get(f"{api}/models"))
            ids = [m.get("id") for m in data.get("data", [])] if isinstance(data, dict) else []
            if not ids:
                raise _Fail("GET /v1/models lists no models")
            if report.model is None:
                report.model = ids[0]
                return f"using first listed model {ids[0]!r} of {ids}"
            if report.model not in ids:
                raise _Fail(f"model {report.model!r} is not served; listed: {ids}")
            return f"model {report.model!r} listed"

        def chat(**body: Any) -> dict:
            # A chat call for a model the server does not list only repeats the models failure.
            if not report.checks[1].ok:
                raise _Fail("skipped: the models check failed")
            payload = {"model": report.model, **_EXTRA, **body}
            return _message(_json(client.post(f"{api}/chat/completions", json=payload)))

        def tool_call() -> str:
            msg = chat(messages=[{"role": "user", "content":
                                  "Use the get_weather tool to get the weather in Paris."}],
                       tools=[WEATHER_TOOL], tool_choice="auto")
            calls = msg.get("tool_calls") or []
            if not calls:
                raise _Fail("no parsed tool call in the reply (is --enable-auto-tool-choice set "
                            f"with the right --tool-call-parser?); content: {str(msg.get('content'))[:120]!r}")
            fn = calls[0].get("function") or {}
            if fn.get("name") != "get_weather":
                raise _Fail(f"tool call names {fn.get('name')!r}, expected 'get_weather'")
            try:
                args = json.loads(fn.get("arguments") or "")
            except (TypeError, ValueError):
                raise _Fail(f"tool arguments are not valid JSON: {fn.get('arguments')!r}") from None
            try:
                jsonschema.validate(args, WEATHER_TOOL["function"]["parameters"])
            except jsonschema.ValidationError as exc:
                raise _Fail(f"tool arguments do not match the schema: {exc.message}") from None
            return f"get_weather({json.dumps(args)})"

        def structured() -> str:
            msg = chat(messages=[{"role": "user", "content":
                                  "Which specialist should answer 'why is the payments pod "
                                  "restarting?' Reply as JSON with next and reason."}],
                       response_format={"type": "json_schema", "json_schema": {
                           "name": "route", "schema": ROUTE_SCHEMA, "strict": True}})
            content = msg.get("content") or ""
            try:
                value = json.loads(content)
            except ValueError:
                raise _Fail(f"content is not valid JSON: {content[:120]!r}") from None
            try:
                jsonschema.validate(value, ROUTE_SCHEMA)
            except jsonschema.ValidationError as exc:
                raise _Fail(f"content does not match the schema: {exc.message}") from None
            return f"validated {json.dumps(value)[:120]}"

        for name, fn in (("health", health), ("models", models), ("tool_call", tool_call),
                         ("structured", structured)):
            report.checks.append(_run(name, fn))
    return report


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m serving.vllm.check_endpoint", description=__doc__.split("\n")[0])
    p.add_argument("--base-url", required=True, help="e.g. http://gpu-box:8000/v1 (or the server root)")
    p.add_argument("--model", help="served model name; default: the first one /v1/models lists")
    p.add_argument("--api-key", help="bearer token when vLLM runs with --api-key")
    p.add_argument("--timeout", type=float, default=30.0, help="seconds per request (default 30)")
    p.add_argument("--json", action="store_true", help="print one JSON report instead of lines")
    a = p.parse_args(argv)
    report = run_checks(a.base_url, a.model, timeout_s=a.timeout, api_key=a.api_key)
    if a.json:
        print(json.dumps(report.to_dict(), indent=2))
    else:
        print(f"endpoint {a.base_url}  model {report.model or '?'}")
        for c in report.checks:
            print(f"  {'PASS' if c.ok else 'FAIL'}  {c.name:<10} {c.elapsed_ms:>6} ms  {c.detail}")
        print("OK: ready for agentdesk" if report.ok else "NOT READY: fix the failed checks")
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
