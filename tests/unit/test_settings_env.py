"""Settings: `.env` reaches what reads the environment directly, and bad values fail at once with
the variable's name instead of misbehaving later."""

from __future__ import annotations

import os

import pytest
from pydantic import ValidationError

from serving import auth, cli
from serving.settings import Settings, get_settings

_VARS = ("AGENTDESK_AUTH", "AGENTDESK_SQL_ROW_CAP", "LANGFUSE_HOST", "AGENTDESK_DATA_DIR", "AGENTDESK_MAX_STEPS")


@pytest.fixture
def clean_env(monkeypatch, tmp_path):
    for name in _VARS:
        monkeypatch.delenv(name, raising=False)  # restored (removed) afterwards, whatever .env set
    monkeypatch.chdir(tmp_path)
    get_settings.cache_clear()  # the process-wide settings are read once; read them again here
    yield tmp_path
    get_settings.cache_clear()


def test_dotenv_reaches_the_environment_and_set_variables_win(clean_env, monkeypatch) -> None:
    # Before, `.env` was read by the settings classes only: AGENTDESK_AUTH=keys there left the
    # server open, and the server `agentdesk run` starts (working directory under .data, its
    # environment a copy of ours) never saw a served model configured there.
    (clean_env / ".env").write_text("AGENTDESK_AUTH=keys\nAGENTDESK_SQL_ROW_CAP=50\nLANGFUSE_HOST=http://from-dotenv\n")
    monkeypatch.setenv("LANGFUSE_HOST", "http://from-environment")
    cli.load_dotenv()
    assert os.environ["AGENTDESK_AUTH"] == "keys" and auth.forced_keys()
    assert os.environ["AGENTDESK_SQL_ROW_CAP"] == "50"
    assert os.environ["LANGFUSE_HOST"] == "http://from-environment"


@pytest.mark.parametrize("value, forced", [("keys", True), ("KEYS", True), (" Keys ", True), ("local", False), ("", False)])
def test_auth_setting_values(monkeypatch, value, forced) -> None:
    monkeypatch.setenv("AGENTDESK_AUTH", value)
    assert auth.forced_keys() is forced


@pytest.mark.parametrize("value", ["on", "true", "key", "1"])
def test_an_unknown_auth_setting_is_an_error_not_an_open_server(monkeypatch, value) -> None:
    monkeypatch.setenv("AGENTDESK_AUTH", value)
    with pytest.raises(ValueError, match="AGENTDESK_AUTH must be 'keys' or 'local'"):
        auth.forced_keys()


def test_cli_names_the_bad_setting_and_exits_2(clean_env, monkeypatch, capsys) -> None:
    from serving import runner

    def prepare(url: str) -> None:
        raise AssertionError("got past the settings check")

    monkeypatch.setattr(runner, "prepare", prepare)
    monkeypatch.setenv("AGENTDESK_MAX_STEPS", "-1")
    assert cli.main(["run"]) == 2
    assert "AGENTDESK_MAX_STEPS='-1'" in capsys.readouterr().err
    monkeypatch.setenv("AGENTDESK_MAX_STEPS", "6")
    monkeypatch.setenv("AGENTDESK_AUTH", "on")
    assert cli.main(["run"]) == 2  # before the database, the warehouse or the server
    assert "AGENTDESK_AUTH must be" in capsys.readouterr().err


@pytest.mark.parametrize("name, value", [
    ("AGENTDESK_SQL_TIMEOUT_S", "0"),  # was 1 ms: every read cancelled
    ("AGENTDESK_SQL_WRITE_TIMEOUT_S", "0"),  # was '0ms', which Postgres reads as no timeout
    ("AGENTDESK_SQL_ROW_CAP", "0"), ("AGENTDESK_RUNS_PER_MINUTE", "-5"), ("AGENTDESK_POOL_MAX_SIZE", "0"),
    ("AGENTDESK_LLM_TIMEOUT_S", "-1"), ("AGENTDESK_MAX_STEPS", "-1"), ("AGENTDESK_SQL_TIMEOUT_S", "5s"),
    # these three were parsed with int()/float() at import: a bare ValueError stopped the app loading
    ("AGENTDESK_MAX_BODY_BYTES", "2MB"), ("AGENTDESK_RERANK_DEPTH", "20.5"), ("AGENTDESK_RECOVER_HOURS", "-1"),
])
def test_out_of_range_numbers_are_refused(monkeypatch, name, value) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ValidationError, match=name):
        Settings()


def test_a_relative_data_dir_is_made_absolute_once(clean_env, monkeypatch) -> None:
    # `agentdesk run` starts the server in a folder under data_dir; a relative path was resolved
    # again from there and the server could not find its config.
    monkeypatch.setenv("AGENTDESK_DATA_DIR", ".data-dev")
    assert Settings().data_dir == clean_env / ".data-dev"
    monkeypatch.setenv("AGENTDESK_DATA_DIR", "")
    with pytest.raises(ValidationError, match="must name a folder"):
        Settings()


def test_a_jwt_public_key_that_is_neither_pem_nor_a_file_is_a_setting_error(monkeypatch) -> None:
    monkeypatch.setenv("AGENTDESK_JWT_PUBLIC_KEY", "/etc/agentdesk/missing-key.pem")
    with pytest.raises(ValueError, match="AGENTDESK_JWT_PUBLIC_KEY is neither PEM text nor a readable file"):
        auth.jwt_settings()


@pytest.mark.parametrize("value", ["nan", "inf", "-inf"])
def test_non_finite_counts_are_usage_errors(value, capsys) -> None:
    # `nan < 0` is False, so NaN passed the range check and reached Postgres as an interval.
    with pytest.raises(SystemExit) as exit_:
        cli.main(["prune", f"--older-than={value}", "--dry-run"])
    assert exit_.value.code == 2 and "must be a finite number" in capsys.readouterr().err


def test_an_unknown_encoder_backend_is_an_error_not_the_slowest_backend(monkeypatch) -> None:
    from rag.dense import get_encoder

    monkeypatch.setenv("AGENTDESK_ENCODER_BACKEND", "int8")
    with pytest.raises(ValueError, match="AGENTDESK_ENCODER_BACKEND must be torch, onnx or onnx-int8"):
        get_encoder.__wrapped__()
