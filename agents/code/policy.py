"""Static risk scan of Python the code agent wants to run.

This decides whether a run needs human approval; it is NOT the security boundary (the sandbox
is, and it runs every snippet, approved or not). So the scan errs towards "high": anything that
looks like network use or installing packages, including through a shell or dynamic import,
is flagged. Unparseable code falls back to regexes over the source text.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field
from typing import Literal

# Top-level modules whose import means the code talks to the network.
NETWORK_MODULES = frozenset({
    "socket", "ssl", "urllib", "urllib2", "urllib3", "http", "httplib", "requests", "httpx",
    "aiohttp", "websocket", "websockets", "ftplib", "smtplib", "poplib", "imaplib", "telnetlib",
    "xmlrpc", "asyncore", "paramiko", "pycurl", "grpc", "boto3", "botocore", "socketserver",
    "psycopg", "psycopg2", "pymysql", "redis", "pymongo", "asyncpg", "sqlalchemy",
})
# Modules that can run other programs (a shell can reach the network or install packages).
PROCESS_MODULES = frozenset({"subprocess", "pty", "multiprocessing.popen_spawn_posix", "ctypes", "cffi"})
PROCESS_CALLS = frozenset({
    "system", "popen", "spawnl", "spawnle", "spawnlp", "spawnv", "spawnve", "spawnvp", "execv",
    "execve", "execl", "execle", "execlp", "execvp", "execvpe", "posix_spawn", "posix_spawnp",
})
DYNAMIC_BUILTINS = frozenset({"__import__", "exec", "eval", "compile"})  # called by bare name
INSTALLERS = frozenset({"pip", "pip3", "ensurepip", "conda", "mamba", "uv", "apt", "apt-get"})
_INSTALL_RE = re.compile(
    r"\b(pip3?|ensurepip|conda|mamba|uv|poetry|easy_install)\b.{0,40}\b(install|add|sync)\b"
    r"|\b(apt|apt-get|dpkg|apk|yum|dnf)\b.{0,20}\b(install|-i)\b",
    re.S,
)
_SHELL_TEXT_RE = re.compile(
    r"\b(import|from)\s+(subprocess|pty)\b|\bos\.(system|popen|exec\w*|spawn\w*)\b"
)
_NET_TEXT_RE = re.compile(r"\b(https?|ftp|wss?)://|\b(curl|wget|nc|ncat|ssh|scp)\b")


@dataclass(frozen=True)
class CodeAssessment:
    risk: Literal["low", "high"]
    reasons: list[str] = field(default_factory=list)

    @property
    def wants_network(self) -> bool:
        # An approved high-risk run shares the host network only if it asked for the network
        # (an install needs it too); approved shell-only code stays offline.
        return any(r.startswith(("network", "install")) for r in self.reasons)


def assess_code(code: str) -> CodeAssessment:
    """Classify `code` as "low" (plain computation) or "high" (needs human approval)."""
    reasons: list[str] = []
    try:
        tree = ast.parse(code)
        reasons += _scan_ast(tree)
    except (SyntaxError, ValueError):
        reasons.append("code does not parse; scanned as text")
        reasons += _scan_text(code, fallback=True)
    except (RecursionError, MemoryError):
        # "x = 1" + "+1" * 10000 nests past what the parser or the walk can hold. Uncaught, it
        # crashed the approval node on every resume of the thread; unscanned code needs a human.
        reasons.append("code nested too deeply to scan")
        reasons += _scan_text(code, fallback=True)
    reasons = list(dict.fromkeys(reasons))  # dedupe, keep order
    risky = [r for r in reasons if not r.startswith("code does not parse")]
    return CodeAssessment("high" if risky else "low", reasons)


def _root(name: str) -> str:
    return name.split(".")[0]


def _scan_ast(tree: ast.AST) -> list[str]:
    reasons: list[str] = []
    os_names = {"os", "posix"}  # plus aliases: `import os as o`
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                reasons += _import_reasons(alias.name)
                if alias.name in {"os", "posix"}:
                    os_names.add(alias.asname or alias.name)
        elif isinstance(node, ast.ImportFrom):
            reasons += _import_reasons(node.module or "")
            if node.module in {"os", "posix"}:
                reasons += [f"process: imports os.{a.name}" for a in node.names
                            if a.name in PROCESS_CALLS]
            if node.module == "importlib" and any(a.name in ("import_module", "__import__") for a in node.names):
                reasons.append("dynamic: imports importlib's import function (under any name, it hides what is imported)")
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            # URLs and shell-ish text only count inside string literals, not in comments;
            # pandas.read_csv("https://...") fetches without importing a network module.
            reasons += _scan_text(node.value, fallback=False)
            if node.value.strip() in INSTALLERS:  # subprocess.run(["pip", "install", ...])
                reasons.append(f"install: runs {node.value.strip()}")
        elif isinstance(node, ast.Call):
            reasons += _call_reasons(node, os_names)
        elif (isinstance(node, ast.Subscript) and isinstance(node.value, ast.Attribute)
              and node.value.attr == "modules" and isinstance(node.value.value, ast.Name)
              and node.value.value.id == "sys"):
            reasons.append("dynamic: reaches a module through sys.modules")
        elif isinstance(node, ast.Assign) and isinstance(node.value, ast.Name) and node.value.id in DYNAMIC_BUILTINS:
            reasons.append(f"dynamic: renames {node.value.id} (`e = exec; e(...)` hides what runs)")
    return reasons


def _import_reasons(name: str) -> list[str]:
    if _root(name) in NETWORK_MODULES:
        return [f"network: imports {name}"]
    if _root(name) == "_socket":  # the C module under socket
        return [f"network: imports {name}"]
    if name in PROCESS_MODULES or _root(name) in {"subprocess", "pty", "ctypes", "cffi"}:
        return [f"process: imports {name} (can run pip or a shell)"]
    if _root(name) in {"pip", "ensurepip", "setuptools"}:
        return [f"install: imports {name}"]
    return []


def _call_reasons(node: ast.Call, os_names: set[str]) -> list[str]:
    func = node.func
    # os.system(...) but not platform.system(): only calls on the os module count.
    if (isinstance(func, ast.Attribute) and func.attr in PROCESS_CALLS
            and isinstance(func.value, ast.Name) and func.value.id in os_names):
        return [f"process: calls os.{func.attr}() (runs a shell command)"]
    # getattr(os, "system")(...): the attribute is named by a string, not written as os.system.
    if (isinstance(func, ast.Name) and func.id == "getattr" and len(node.args) >= 2
            and isinstance(node.args[0], ast.Name) and node.args[0].id in os_names):
        attr = node.args[1]
        if not (isinstance(attr, ast.Constant) and isinstance(attr.value, str)):
            return ["dynamic: getattr() on os with a computed name hides what runs"]
        if attr.value in PROCESS_CALLS:
            return [f"process: reaches os.{attr.value} through getattr() (runs a shell command)"]
    dynamic = (isinstance(func, ast.Name) and func.id in DYNAMIC_BUILTINS) or (
        isinstance(func, ast.Attribute) and func.attr in ("import_module", "__import__"))
    if not dynamic:
        return []
    name = func.id if isinstance(func, ast.Name) else func.attr
    arg = node.args[0] if node.args else None
    if not (isinstance(arg, ast.Constant) and isinstance(arg.value, str)):
        return [f"dynamic: {name}() with a computed argument hides what runs"]
    if name in {"__import__", "import_module"}:
        return [r.replace("imports", "dynamically imports") for r in _import_reasons(arg.value)]
    sub = assess_code(arg.value) if len(arg.value) < 100_000 else None
    return [f"{r} (inside {name})" for r in sub.reasons] if sub and sub.risk == "high" else []


def _scan_text(code: str, *, fallback: bool) -> list[str]:
    reasons: list[str] = []
    if m := _INSTALL_RE.search(code):
        reasons.append(f"install: mentions {m.group(0)!r}")
    if m := _NET_TEXT_RE.search(code):
        reasons.append(f"network: mentions {m.group(0)!r}")
    if fallback:
        for mod in sorted(NETWORK_MODULES):
            if re.search(rf"\b(import|from)\s+{mod}\b", code):
                reasons.append(f"network: imports {mod}")
        if _SHELL_TEXT_RE.search(code):
            reasons.append("process: runs a shell command")
    return reasons
