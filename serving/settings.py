"""One configuration model for the whole app, read from the environment (and `.env`)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    # Persistence: DATABASE_URL, or an embedded pgserver Postgres under data_dir.
    database_url: str | None = Field(default=None, alias="DATABASE_URL")
    data_dir: Path = Field(default=PROJECT_ROOT / ".data", alias="AGENTDESK_DATA_DIR")
    pool_max_size: int = Field(default=10, ge=1, alias="AGENTDESK_POOL_MAX_SIZE")
    # Checkpoint commits wait for the WAL flush (fsync) by default. Off, a database crash can lose
    # the last ~0.6 s of checkpoints (never corrupt them); the run-once action ledger stays
    # synchronous either way. See docs/performance.md.
    checkpoint_sync_commit: bool = Field(default=True, alias="AGENTDESK_CHECKPOINT_SYNC_COMMIT")

    # Model gateway. Unset base URL means the offline model serves every node.
    llm_base_url: str | None = Field(default=None, alias="AGENTDESK_LLM_BASE_URL")
    llm_model: str = Field(default="Qwen/Qwen3-8B", alias="AGENTDESK_LLM_MODEL")
    llm_api_key: str = Field(default="EMPTY", alias="AGENTDESK_LLM_API_KEY")
    # Per-role overrides, e.g. a small fast model for routing.
    router_model: str | None = Field(default=None, alias="AGENTDESK_ROUTER_MODEL")
    # The small routing model usually has its own vLLM server.
    router_base_url: str | None = Field(default=None, alias="AGENTDESK_ROUTER_BASE_URL")
    llm_fallback_base_url: str | None = Field(default=None, alias="AGENTDESK_LLM_FALLBACK_BASE_URL")
    llm_fallback_model: str | None = Field(default=None, alias="AGENTDESK_LLM_FALLBACK_MODEL")
    llm_timeout_s: float = Field(default=60.0, gt=0, alias="AGENTDESK_LLM_TIMEOUT_S")
    llm_max_retries: int = Field(default=3, ge=0, alias="AGENTDESK_LLM_MAX_RETRIES")
    llm_backoff_max_s: float = Field(default=8.0, ge=0, alias="AGENTDESK_LLM_BACKOFF_MAX_S")
    breaker_failures: int = Field(default=5, ge=1, alias="AGENTDESK_BREAKER_FAILURES")
    breaker_reset_s: float = Field(default=30.0, gt=0, alias="AGENTDESK_BREAKER_RESET_S")
    # Cost per 1k tokens (input, output) for budget accounting of a served model.
    cost_per_1k_input: float = Field(default=0.0, ge=0, alias="AGENTDESK_COST_PER_1K_INPUT")
    cost_per_1k_output: float = Field(default=0.0, ge=0, alias="AGENTDESK_COST_PER_1K_OUTPUT")

    # Per-run budgets.
    max_steps: int = Field(default=6, ge=0, alias="AGENTDESK_MAX_STEPS")  # 0: every run stops at once
    max_tokens: int = Field(default=200_000, ge=1, alias="AGENTDESK_MAX_TOKENS")
    max_cost: float = Field(default=5.0, ge=0, alias="AGENTDESK_MAX_COST")
    # Runs per minute per user in keys mode (0 = no limit); one bucket in Postgres for all replicas.
    runs_per_minute: float = Field(default=60.0, ge=0, alias="AGENTDESK_RUNS_PER_MINUTE")

    # Local mode (no users) trusts whoever reaches the server, so browsers are held to these:
    # Host names besides localhost/127.0.0.1/::1, and origins besides the server's own and
    # LangGraph Studio's (comma-separated; "*" allows any). serving/local_origin.py says why.
    allowed_hosts: str = Field(default="", alias="AGENTDESK_ALLOWED_HOSTS")
    allowed_origins: str = Field(default="", alias="AGENTDESK_ALLOWED_ORIGINS")

    # The HTTP app refuses larger request bodies (413) before reading them whole.
    max_body_bytes: int = Field(default=2 * 1024 * 1024, ge=1024, alias="AGENTDESK_MAX_BODY_BYTES")
    # Threads whose last run died with the server within this window are resumed at start.
    recover_hours: float = Field(default=1.0, ge=0, alias="AGENTDESK_RECOVER_HOURS")
    # Hits the cross-encoder rescores (its CPU cost grows linearly with it).
    rerank_depth: int = Field(default=20, ge=1, alias="AGENTDESK_RERANK_DEPTH")

    # The data agent's SQL: statement timeouts (reads, approved writes) and the rows a result keeps.
    sql_timeout_s: float = Field(default=5.0, gt=0, alias="AGENTDESK_SQL_TIMEOUT_S")
    sql_write_timeout_s: float = Field(default=30.0, gt=0, alias="AGENTDESK_SQL_WRITE_TIMEOUT_S")
    sql_row_cap: int = Field(default=500, ge=1, alias="AGENTDESK_SQL_ROW_CAP")

    # DevOps signals; unset means agentdesk's own metrics and logs.
    prometheus_url: str | None = Field(default=None, alias="PROMETHEUS_URL")
    loki_url: str | None = Field(default=None, alias="LOKI_URL")

    @field_validator("data_dir")
    @classmethod
    def _absolute_data_dir(cls, value: Path) -> Path:
        # `agentdesk run` starts the server in a folder under data_dir: a relative path would be
        # resolved twice (from here and from there) and the server would not find its config.
        if not str(value).strip() or str(value) == ".":
            raise ValueError("must name a folder (unset it for the default .data in the project)")
        return value.expanduser().resolve()

    @property
    def offline(self) -> bool:
        return not self.llm_base_url

    @property
    def log_file(self) -> Path:
        return self.data_dir / "logs" / "agentdesk.jsonl"


@lru_cache
def get_settings() -> Settings:
    return Settings()
