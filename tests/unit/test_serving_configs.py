"""Serving and deployment configs, validated against their schemas (none of them can run here),
and the vLLM endpoint pre-flight check against the scripted OpenAI-compatible server.

Schema sources, all offline:
  Kubernetes manifests  the Kubernetes OpenAPI-derived JSON schemas shipped by the PyPI package
                        `kubernetes-validate` (strict variant: unknown fields are errors)
  compose file          the `compose-spec` PyPI package: a strict Compose Specification parser
                        (Rust `compose_spec`, unknown keys are errors) + its pydantic models
  vLLM configs          VLLM_SERVE_OPTIONS below, written down from vLLM v0.11.0
  langgraph.json        langgraph_cli.config.validate_config_file
"""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from pathlib import Path

import kubernetes_validate
import pytest
import yaml
from compose_spec import PyCompose

from evals.scripted_llm import ScriptedServer, free_port, text, tool
from serving.vllm.check_endpoint import EndpointProblem, run_checks, served_models, split_base_url

ROOT = Path(__file__).resolve().parents[2]
VLLM_DIR = ROOT / "serving" / "vllm"
K8S_DIR = ROOT / "serving" / "deploy" / "k8s"
COMPOSE = ROOT / "serving" / "deploy" / "compose.yaml"
VLLM_CONFIGS = sorted(VLLM_DIR.glob("*.yaml"))
K8S_VERSION = "1.33"  # oldest Kubernetes minor the manifests must work on

# ---------------------------------------------------------------------------------------------
# vLLM: `vllm serve` long options (config-file keys) with their types, from vLLM v0.11.0:
# vllm/engine/arg_utils.py (EngineArgs.add_cli_args), vllm/entrypoints/openai/cli_args.py
# (FrontendArgs) and vllm/entrypoints/cli/serve.py. Not every option: the ones a deployment sets.
# Types: bool flag, int, float, str, dict (a JSON option; a YAML mapping in the config file), list.
VLLM_SERVE_OPTIONS: dict[str, type | tuple[type, ...]] = {
    # serve subcommand
    "model": str, "config": str, "headless": bool, "api-server-count": int,
    # FrontendArgs
    "host": str, "port": int, "uvicorn-log-level": str, "disable-uvicorn-access-log": bool,
    "allow-credentials": bool, "allowed-origins": list, "allowed-methods": list,
    "allowed-headers": list, "api-key": (str, list), "lora-modules": list, "chat-template": str,
    "chat-template-content-format": str, "default-chat-template-kwargs": dict,
    "response-role": str, "ssl-keyfile": str, "ssl-certfile": str, "ssl-ca-certs": str,
    "root-path": str, "middleware": list, "return-tokens-as-token-ids": bool,
    "enable-request-id-headers": bool, "enable-auto-tool-choice": bool,
    "exclude-tools-when-tool-choice-none": bool, "tool-call-parser": str,
    "tool-parser-plugin": str, "log-config-file": str, "max-log-len": int,
    "disable-fastapi-docs": bool, "enable-prompt-tokens-details": bool,
    "enable-server-load-tracking": bool, "enable-force-include-usage": bool,
    "enable-log-outputs": bool, "enable-log-requests": bool, "disable-log-stats": bool,
    # ModelConfig
    "served-model-name": (str, list), "tokenizer": str, "tokenizer-mode": str,
    "trust-remote-code": bool, "dtype": str, "seed": int, "revision": str,
    "tokenizer-revision": str, "max-model-len": int, "quantization": str, "enforce-eager": bool,
    "max-logprobs": int, "generation-config": str, "override-generation-config": dict,
    "hf-overrides": dict, "enable-sleep-mode": bool, "model-impl": str,
    # LoadConfig
    "load-format": str, "download-dir": str,
    # StructuredOutputsConfig
    "structured-outputs-config": dict, "reasoning-parser": str,
    # ParallelConfig
    "tensor-parallel-size": int, "pipeline-parallel-size": int, "data-parallel-size": int,
    "enable-expert-parallel": bool, "distributed-executor-backend": str,
    # CacheConfig
    "gpu-memory-utilization": float, "kv-cache-dtype": str, "block-size": int,
    "enable-prefix-caching": bool, "swap-space": float, "cpu-offload-gb": float,
    "kv-cache-memory-bytes": int,
    # SchedulerConfig
    "max-num-seqs": int, "max-num-batched-tokens": int, "enable-chunked-prefill": bool,
    "scheduling-policy": str, "async-scheduling": bool,
    # Speculative decoding, compilation, LoRA, observability
    "speculative-config": dict, "compilation-config": dict, "enable-lora": bool,
    "max-loras": int, "max-lora-rank": int, "otlp-traces-endpoint": str,
}
# Renamed in v0.11 (accepted with a deprecation warning, then removed): do not use them.
VLLM_DEPRECATED = {"guided-decoding-backend", "guided-decoding-disable-fallback",
                   "guided-decoding-disable-any-whitespace", "disable-log-requests",
                   "speculative-model", "num-speculative-tokens"}
TOOL_CALL_PARSERS = {"hermes", "mistral", "llama3_json", "llama4_json", "llama4_pythonic",
                     "pythonic", "granite", "granite-20b-fc", "internlm", "jamba", "deepseek_v3",
                     "deepseek_v31", "qwen3_coder", "kimi_k2", "glm45", "openai", "phi4_mini_json",
                     "hunyuan_a13b", "minimax", "xlam", "step3", "seed_oss"}
REASONING_PARSERS = {"qwen3", "deepseek_r1", "deepseek_v3", "granite", "glm45", "hunyuan_a13b",
                     "mistral", "step3", "openai_gptoss", "seed_oss"}
STRUCTURED_OUTPUTS_KEYS = {"backend": str, "disable_fallback": bool, "disable_any_whitespace": bool,
                           "disable_additional_properties": bool, "reasoning_parser": str}
STRUCTURED_BACKENDS = {"auto", "xgrammar", "guidance", "outlines", "lm-format-enforcer"}
SPECULATIVE_KEYS = {"method": str, "model": str, "num_speculative_tokens": int,
                    "draft_tensor_parallel_size": int, "max_model_len": int, "quantization": str,
                    "revision": str, "disable_by_batch_size": int, "prompt_lookup_max": int,
                    "prompt_lookup_min": int}
SPECULATIVE_METHODS = {"eagle", "eagle3", "ngram", "medusa", "mlp_speculator", "deepseek_mtp", "mtp"}


def vllm_config_errors(cfg: object) -> list[str]:
    """Every problem with a `vllm serve --config` mapping (empty list = valid)."""
    if not isinstance(cfg, dict):
        return ["the config must be a YAML mapping"]
    errors = []
    for key, value in cfg.items():
        option = str(key).replace("_", "-")  # vLLM accepts both spellings
        if option in VLLM_DEPRECATED:
            errors.append(f"{key}: deprecated/removed option")
            continue
        expected = VLLM_SERVE_OPTIONS.get(option)
        if expected is None:
            errors.append(f"{key}: not a `vllm serve` option")
            continue
        types = expected if isinstance(expected, tuple) else (expected,)
        # YAML ints are fine where vLLM wants a float; bools are not ints for our purposes.
        ok = any(isinstance(value, t) and not (t in (int, float) and isinstance(value, bool))
                 or (t is float and isinstance(value, int) and not isinstance(value, bool))
                 for t in types)
        if not ok:
            errors.append(f"{key}: expected {'/'.join(t.__name__ for t in types)}, "
                          f"got {type(value).__name__}")
    if "model" not in cfg:
        errors.append("model: missing (the config is meant to be self-contained)")
    if (parser := cfg.get("tool-call-parser")) is not None and parser not in TOOL_CALL_PARSERS:
        errors.append(f"tool-call-parser: unknown parser {parser!r}")
    if cfg.get("enable-auto-tool-choice") and not cfg.get("tool-call-parser"):
        errors.append("enable-auto-tool-choice needs tool-call-parser")
    if (parser := cfg.get("reasoning-parser")) is not None and parser not in REASONING_PARSERS:
        errors.append(f"reasoning-parser: unknown parser {parser!r}")
    gpu = cfg.get("gpu-memory-utilization")
    if isinstance(gpu, (int, float)) and not 0 < gpu <= 1:
        errors.append("gpu-memory-utilization: must be in (0, 1]")
    for name, keys in (("structured-outputs-config", STRUCTURED_OUTPUTS_KEYS),
                       ("speculative-config", SPECULATIVE_KEYS)):
        sub = cfg.get(name)
        if not isinstance(sub, dict):
            continue
        for k, v in sub.items():
            if k not in keys:
                errors.append(f"{name}.{k}: unknown field")
            elif not isinstance(v, keys[k]) or (keys[k] is int and isinstance(v, bool)):
                errors.append(f"{name}.{k}: expected {keys[k].__name__}")
    so = cfg.get("structured-outputs-config") or {}
    if isinstance(so, dict) and so.get("backend", "auto") not in STRUCTURED_BACKENDS:
        errors.append(f"structured-outputs-config.backend: unknown {so.get('backend')!r}")
    spec = cfg.get("speculative-config")
    if isinstance(spec, dict):
        if spec.get("method") not in SPECULATIVE_METHODS:
            errors.append(f"speculative-config.method: unknown {spec.get('method')!r}")
        if spec.get("method") in {"eagle", "eagle3", "medusa"} and not spec.get("model"):
            errors.append("speculative-config.model: a draft model is required")
        if not spec.get("num_speculative_tokens"):
            errors.append("speculative-config.num_speculative_tokens: required")
    return errors


def load_vllm(name: str) -> dict:
    return yaml.safe_load((VLLM_DIR / name).read_text())


def test_vllm_configs_exist():
    assert {p.name for p in VLLM_CONFIGS} == {
        "qwen3-8b.yaml", "qwen3-1.7b-router.yaml", "qwen3-8b-eagle3.yaml"}


@pytest.mark.parametrize("path", VLLM_CONFIGS, ids=lambda p: p.name)
def test_vllm_config_keys_are_real_vllm_serve_options(path):
    assert vllm_config_errors(yaml.safe_load(path.read_text())) == []


def test_vllm_primary_is_set_up_for_agentdesk():
    cfg = load_vllm("qwen3-8b.yaml")
    assert cfg["model"] == cfg["served-model-name"] == "Qwen/Qwen3-8B"  # = AGENTDESK_LLM_MODEL
    assert cfg["enable-auto-tool-choice"] is True and cfg["tool-call-parser"] == "hermes"
    assert cfg["structured-outputs-config"]["backend"] == "xgrammar"
    assert cfg["enable-prefix-caching"] is True
    assert cfg["max-model-len"] == 32768 and 0 < cfg["gpu-memory-utilization"] <= 0.95
    assert cfg["port"] == 8000  # the port every manifest and probe uses


def test_vllm_router_and_eagle_variants():
    router = load_vllm("qwen3-1.7b-router.yaml")
    assert router["model"] == "Qwen/Qwen3-1.7B"
    assert router["default-chat-template-kwargs"] == {"enable_thinking": False}
    assert router["enable-auto-tool-choice"] and router["tool-call-parser"] == "hermes"  # fallback use
    eagle = load_vllm("qwen3-8b-eagle3.yaml")
    primary = load_vllm("qwen3-8b.yaml")
    assert eagle["speculative-config"]["method"] in {"eagle", "eagle3"}
    assert eagle["speculative-config"]["model"] != eagle["model"]
    # Same served name and serving behaviour as the primary: a drop-in replacement.
    for key in ("served-model-name", "tool-call-parser", "reasoning-parser",
                "structured-outputs-config", "max-model-len"):
        assert eagle[key] == primary[key], key


@pytest.mark.parametrize("bad, message", [
    ({"enable-auto-tool-choise": True}, "not a `vllm serve` option"),
    ({"guided-decoding-backend": "xgrammar"}, "deprecated"),
    ({"max-model-len": "32k"}, "expected int"),
    ({"enable-prefix-caching": "yes"}, "expected bool"),
    ({"tool-call-parser": "hermes2"}, "unknown parser"),
    ({"structured-outputs-config": {"backend": "xgrammer"}}, "unknown 'xgrammer'"),
    ({"structured-outputs-config": {"engine": "xgrammar"}}, "unknown field"),
    ({"speculative-config": {"method": "eagle3", "num_speculative_tokens": 3}}, "draft model"),
    ({"gpu-memory-utilization": 1.5}, "(0, 1]"),
])
def test_vllm_validator_rejects_mistakes(bad, message):
    cfg = {**load_vllm("qwen3-8b.yaml"), **bad}
    assert any(message in e for e in vllm_config_errors(cfg)), vllm_config_errors(cfg)


# ---------------------------------------------------------------------------------------------
# Kubernetes
def k8s_docs() -> list[tuple[str, dict]]:
    docs = []
    for path in sorted(K8S_DIR.glob("*.yaml")):
        if path.name in {"kustomization.yaml", "prometheus-adapter-values.yaml"}:
            continue
        docs += [(path.name, d) for d in yaml.safe_load_all(path.read_text()) if d is not None]
    return docs


def by_kind(kind: str) -> dict[str, dict]:
    return {d["metadata"]["name"]: d for _, d in k8s_docs() if d["kind"] == kind}


@pytest.mark.parametrize("doc", k8s_docs(), ids=lambda d: f"{d[0]}:{d[1]['kind']}/{d[1]['metadata']['name']}")
def test_k8s_manifest_validates_against_the_kubernetes_schema(doc):
    # strict=True: unknown fields are errors; a kind without a schema raises too (no silent pass).
    assert kubernetes_validate.validate(doc[1], K8S_VERSION, strict=True) == K8S_VERSION


def test_k8s_validator_rejects_mistakes():
    deployment = copy.deepcopy(by_kind("Deployment")["vllm-primary"])
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    container["readinesProbe"] = container.pop("readinessProbe")
    with pytest.raises(kubernetes_validate.ValidationError, match="readinesProbe"):
        kubernetes_validate.validate(deployment, K8S_VERSION, strict=True)
    with pytest.raises(kubernetes_validate.SchemaNotFoundError):
        kubernetes_validate.validate({"apiVersion": "keda.sh/v1alpha1", "kind": "ScaledObject",
                                      "metadata": {"name": "x"}}, K8S_VERSION, strict=True)


def test_kustomization_lists_every_manifest():
    kust = yaml.safe_load((K8S_DIR / "kustomization.yaml").read_text())
    assert set(kust["resources"]) == {name for name, _ in k8s_docs()}
    assert all(d["metadata"].get("namespace", "agentdesk") == "agentdesk" for _, d in k8s_docs())


def test_k8s_services_select_their_workloads():
    workloads = {**by_kind("Deployment"), **by_kind("StatefulSet")}
    for name, svc in by_kind("Service").items():
        labels = workloads[name]["spec"]["template"]["metadata"]["labels"]
        assert svc["spec"]["selector"].items() <= labels.items(), name
    for name, w in workloads.items():
        assert w["spec"]["selector"]["matchLabels"].items() <= w["spec"]["template"]["metadata"]["labels"].items()


def test_k8s_vllm_runs_on_gpus_with_health_probes_and_real_configs():
    configmap = by_kind("ConfigMap")["vllm-configs"]
    # The ConfigMap carries the serving/vllm files verbatim, so there is one source of truth.
    assert configmap["data"] == {p.name: p.read_text() for p in VLLM_CONFIGS}
    for name in ("vllm-primary", "vllm-router"):
        pod = by_kind("Deployment")[name]["spec"]["template"]["spec"]
        c = pod["containers"][0]
        assert c["resources"]["limits"]["nvidia.com/gpu"] == 1
        assert pod["nodeSelector"] and any(t["key"] == "nvidia.com/gpu" for t in pod["tolerations"])
        for probe in ("readinessProbe", "livenessProbe", "startupProbe"):
            assert c[probe]["httpGet"]["path"] == "/health"
        assert c["args"][0] == "--config" and Path(c["args"][1]).name in configmap["data"]
        volumes = {v["name"]: v for v in pod["volumes"]}
        assert volumes["hf-cache"]["persistentVolumeClaim"]["claimName"] in by_kind("PersistentVolumeClaim")
        assert {"/root/.cache/huggingface", "/dev/shm", "/etc/vllm"} <= {m["mountPath"] for m in c["volumeMounts"]}


def test_k8s_api_points_at_the_served_models():
    env = {e["name"]: e for e in by_kind("Deployment")["agentdesk"]["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert {"DATABASE_URI", "REDIS_URI", "LANGGRAPH_CLOUD_LICENSE_KEY", "DATABASE_URL"} <= env.keys()
    assert env["AGENTDESK_LLM_BASE_URL"]["value"] == "http://vllm-primary:8000/v1"
    assert env["AGENTDESK_LLM_MODEL"]["value"] == load_vllm("qwen3-8b.yaml")["served-model-name"]
    assert env["AGENTDESK_LLM_FALLBACK_MODEL"]["value"] == load_vllm("qwen3-1.7b-router.yaml")["served-model-name"]


def test_hpa_scales_vllm_on_queue_depth_via_prometheus_adapter():
    hpa = by_kind("HorizontalPodAutoscaler")["vllm-primary"]
    assert hpa["spec"]["scaleTargetRef"]["name"] in by_kind("Deployment")
    metric = hpa["spec"]["metrics"][0]
    assert metric["type"] == "Pods"
    values = yaml.safe_load((K8S_DIR / "prometheus-adapter-values.yaml").read_text())
    (rule,) = values["rules"]["custom"]
    assert rule["seriesQuery"].startswith("vllm:num_requests_waiting{")
    assert rule["name"]["as"] == metric["pods"]["metric"]["name"]  # what the adapter exposes
    assert set(rule["resources"]["overrides"]) == {"namespace", "pod"}  # a pods metric needs both
    # The pods are scraped, so the series exists at all.
    annotations = by_kind("Deployment")["vllm-primary"]["spec"]["template"]["metadata"]["annotations"]
    assert annotations["prometheus.io/scrape"] == "true" and annotations["prometheus.io/path"] == "/metrics"


# ---------------------------------------------------------------------------------------------
# docker compose
def compose_dict() -> dict:
    # PyYAML first: it resolves the `<<: *vllm` merge keys, as docker compose's loader does.
    return yaml.safe_load(COMPOSE.read_text())


def test_compose_file_is_a_valid_compose_spec():
    parsed = PyCompose.from_json(json.dumps(compose_dict()))  # strict: unknown keys are errors
    spec = parsed.to_spec()  # and the pydantic models of the Compose Specification
    assert set(spec.services) == {"agentdesk", "postgres", "redis", "vllm-primary", "vllm-router"}


def test_compose_validator_rejects_mistakes():
    bad = compose_dict()
    bad["services"]["redis"]["helthcheck"] = bad["services"]["redis"].pop("healthcheck")
    with pytest.raises(ValueError, match="helthcheck"):
        PyCompose.from_json(json.dumps(bad))
    bad = compose_dict()
    bad["services"]["postgres"]["healthcheck"]["interval"] = "often"
    with pytest.raises(ValueError, match="duration `often`"):
        PyCompose.from_json(json.dumps(bad))


def test_compose_references_resolve():
    c = compose_dict()
    services = c["services"]
    for name, svc in services.items():
        assert set(svc.get("depends_on", {})) <= set(services), name  # the parser does not check
        for volume in svc.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("."):
                assert (COMPOSE.parent / source).is_dir(), volume
            else:
                assert source in c["volumes"], volume
    for name in ("vllm-primary", "vllm-router"):
        svc = services[name]
        config = Path(svc["command"][1])
        assert svc["command"][0] == "--config" and (VLLM_DIR / config.name).is_file()
        (device,) = svc["deploy"]["resources"]["reservations"]["devices"]
        assert device["driver"] == "nvidia" and device["capabilities"] == ["gpu"]
    env = services["agentdesk"]["environment"]
    assert {"DATABASE_URI", "REDIS_URI", "LANGGRAPH_CLOUD_LICENSE_KEY", "LANGSMITH_API_KEY"} <= env.keys()
    assert env["AGENTDESK_LLM_BASE_URL"] == "http://vllm-primary:8000/v1"


# ---------------------------------------------------------------------------------------------
# langgraph.json
def test_langgraph_json_passes_the_cli_validator(monkeypatch):
    monkeypatch.setenv("LANGGRAPH_CLI_NO_ANALYTICS", "1")
    from langgraph_cli.config import validate_config_file

    config = validate_config_file(ROOT / "langgraph.json")
    assert {"orchestrator", "research", "code", "data", "devops", "rag"} <= set(config["graphs"])
    assert config["checkpointer"]["path"].endswith(":checkpointer")
    assert config["http"]["app"] and config["auth"]["path"]


# ---------------------------------------------------------------------------------------------
# check_endpoint against the scripted OpenAI-compatible server (the vLLM stand-in)
ROUTE = json.dumps({"next": "devops", "reason": "pods and restarts are DevOps"})


def results(report) -> dict[str, bool]:
    return {c.name: c.ok for c in report.checks}


def test_split_base_url():
    assert split_base_url("http://h:8000/v1/") == ("http://h:8000", "http://h:8000/v1")
    assert split_base_url("http://h:8000") == ("http://h:8000", "http://h:8000/v1")


def test_check_endpoint_passes_a_good_endpoint():
    with ScriptedServer() as srv:
        srv.push(tool("get_weather", city="Paris"), text(ROUTE))
        report = run_checks(srv.url, timeout_s=5)
        assert report.ok and results(report) == dict.fromkeys(
            ["health", "models", "tool_call", "structured"], True)
        assert report.model == "scripted-model"
        tool_req, structured_req = srv.script.requests
        assert tool_req["tools"][0]["function"]["name"] == "get_weather"
        assert tool_req["tool_choice"] == "auto"
        assert structured_req["response_format"]["type"] == "json_schema"
        assert "guided_json" not in structured_req  # ignored by current vLLM


@pytest.mark.parametrize("replies, failed, detail", [
    ([{"fail": 500}, {"fail": 500}], {"tool_call", "structured"}, "HTTP 500"),
    ([{"fail": "malformed"}, {"fail": "malformed"}], {"tool_call", "structured"}, "not valid JSON"),
    ([text("Paris is sunny."), text(ROUTE)], {"tool_call"}, "no parsed tool call"),
    ([tool("get_weather", town="Paris"), text(ROUTE)], {"tool_call"}, "do not match the schema"),
    ([tool("get_time", city="Paris"), text(ROUTE)], {"tool_call"}, "expected 'get_weather'"),
    ([tool("get_weather", city="Paris"), text("devops, because pods")], {"structured"}, "not valid JSON"),
    ([tool("get_weather", city="Paris"), text('{"next": "nowhere", "reason": "x"}')], {"structured"},
     "does not match the schema"),
])
def test_check_endpoint_fails_a_bad_endpoint(replies, failed, detail):
    with ScriptedServer() as srv:
        srv.push(*replies)
        report = run_checks(srv.url, timeout_s=5)
    assert not report.ok
    assert {name for name, ok in results(report).items() if not ok} == failed
    assert all(detail in c.detail for c in report.checks if not c.ok)


def test_check_endpoint_fails_when_the_model_is_not_served():
    with ScriptedServer() as srv:
        report = run_checks(srv.url, "Qwen/Qwen3-8B", timeout_s=5)
        assert srv.script.requests == []  # chat checks skipped: they would only repeat the failure
    assert results(report) == {"health": True, "models": False, "tool_call": False, "structured": False}
    assert "not served; listed: ['scripted-model']" in report.checks[1].detail


def test_check_endpoint_times_out():
    with ScriptedServer() as srv:
        srv.push({"fail": "slow", "seconds": 3}, text(ROUTE))
        report = run_checks(srv.url, timeout_s=0.5)
    assert results(report)["tool_call"] is False and "timed out" in report.checks[2].detail
    assert results(report)["structured"] is True


def test_check_endpoint_reports_a_dead_endpoint():
    report = run_checks(f"http://127.0.0.1:{free_port()}/v1", timeout_s=2)
    assert not report.ok and not any(results(report).values())


def test_check_endpoint_cli_exit_codes_and_json():
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    cmd = [sys.executable, "-m", "serving.vllm.check_endpoint", "--timeout", "5"]
    with ScriptedServer() as srv:
        srv.push(tool("get_weather", city="Oslo"), text(ROUTE))
        good = subprocess.run([*cmd, "--base-url", srv.url, "--model", "scripted-model"],
                              capture_output=True, text=True, env=env, timeout=60)
        assert good.returncode == 0, good.stdout + good.stderr
        assert good.stdout.count("PASS") == 4 and "OK: ready" in good.stdout
        srv.push({"fail": 500}, text(ROUTE))
        bad = subprocess.run([*cmd, "--base-url", srv.url, "--json"],
                             capture_output=True, text=True, env=env, timeout=60)
    assert bad.returncode == 1
    report = json.loads(bad.stdout)
    assert report["ok"] is False
    assert [c["name"] for c in report["checks"] if not c["ok"]] == ["tool_call"]
    usage = subprocess.run([*cmd], capture_output=True, text=True, env=env, timeout=60)
    assert usage.returncode == 2  # --base-url is required


def test_served_models_finds_the_api_under_the_server_root():
    with ScriptedServer() as srv:
        root = srv.url.removesuffix("/v1")
        assert served_models(root) == (srv.url, ["scripted-model"])
        assert served_models(srv.url + "/") == (srv.url, ["scripted-model"])
    with pytest.raises(EndpointProblem, match="does not answer GET /models"):
        served_models(f"http://127.0.0.1:{free_port()}", timeout_s=2)


def test_make_run_says_when_the_model_endpoint_is_wrong():
    """`agentdesk run` starts either way (the endpoint may come up later), but a wrong address or
    model name is one warning at startup instead of silent offline-fallback answers."""
    from serving.runner import model_preflight
    from serving.settings import Settings

    def line(**env) -> str:
        return model_preflight(Settings(**env))

    assert line(AGENTDESK_LLM_BASE_URL=None).startswith("offline model")
    with ScriptedServer() as srv:
        assert line(AGENTDESK_LLM_BASE_URL=srv.url, AGENTDESK_LLM_MODEL="scripted-model").endswith("(served)")
        assert f"set AGENTDESK_LLM_BASE_URL={srv.url}" in line(
            AGENTDESK_LLM_BASE_URL=srv.url.removesuffix("/v1"), AGENTDESK_LLM_MODEL="scripted-model")
        assert "'org/other' is not served there (it lists ['scripted-model'])" in line(
            AGENTDESK_LLM_BASE_URL=srv.url, AGENTDESK_LLM_MODEL="org/other")
    dead = line(AGENTDESK_LLM_BASE_URL=f"http://127.0.0.1:{free_port()}/v1")
    assert "warning:" in dead and "offline fallback answers until it does" in dead


@pytest.mark.parametrize("url", ["http://[::1", "ftp://gpu-box/v1", "gpu-box:8000/v1"])
def test_an_endpoint_that_is_not_an_http_url_is_named(url):
    # httpx's InvalidURL is not an HTTPError: `eval scenarios --endpoint 'http://[::1'` was a traceback
    with pytest.raises(EndpointProblem, match="is not an http"):
        served_models(url, timeout_s=1)
