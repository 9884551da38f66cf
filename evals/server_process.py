"""Start and stop the real agentdesk server the way `make run` does (`agentdesk run`), reading its
real URL from its output. Used by the end-to-end tests and the load benchmark."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from evals.scripted_llm import free_port

ROOT = Path(__file__).resolve().parents[1]
_READY = re.compile(r"chat UI:\s+(http://\S+)/ui")


class Server:
    def __init__(self, env: dict[str, str] | None = None, port: int | None = None,
                 extra_args: list[str] | None = None, cwd: Path = ROOT):
        self.env = {**os.environ, **(env or {})}
        self.cwd = cwd  # where `agentdesk run` starts, and so whose `.env` it reads
        self.extra_args = extra_args or []
        self.port = port or free_port()
        self.proc: subprocess.Popen | None = None
        self.base: str | None = None
        self.output: list[str] = []

    def start(self, timeout: float = 180) -> str:
        cmd = [sys.executable, "-m", "serving.cli", "run", "--port", str(self.port), *self.extra_args]
        self.proc = subprocess.Popen(cmd, cwd=self.cwd, env=self.env, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True, bufsize=1, start_new_session=True)
        ready = threading.Event()

        def pump() -> None:
            for line in self.proc.stdout:  # type: ignore[union-attr]
                self.output.append(line)
                if m := _READY.search(line):
                    self.base = m.group(1)
                    ready.set()

        threading.Thread(target=pump, daemon=True).start()
        deadline = time.time() + timeout
        while not ready.wait(0.5):
            if self.proc.poll() is not None or time.time() > deadline:
                self.stop()
                raise RuntimeError("server did not become ready:\n" + "".join(self.output[-60:]))
        return self.base  # type: ignore[return-value]

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        # Signal the runner only: it forwards one signal to the server, which then shuts down
        # gracefully (a second signal would make uvicorn skip that).
        self.proc.send_signal(sig)
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)

    def kill(self) -> None:
        """kill -9 the runner and the server with it (their own process group): no shutdown."""
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)

    def log(self) -> str:
        return "".join(self.output)
