"""Run untrusted Python in a bubblewrap sandbox. Fails closed: no bwrap, no execution.

Layers (see docs/sandbox.md for the escape table):
- bwrap namespaces: user, pid, net, ipc, uts, cgroup, mount. Approved network code gets a network
  namespace of its own from pasta (Debian `passt`): a user-mode stack with outbound connections
  and no port forwarding, so the host's loopback services (Postgres, Redis, this server) stay out
  of reach. Without pasta it falls back to the host's namespace and logs a warning. The mount
  namespace holds only read-only /usr (+ /lib, /bin symlinks), a tiny synthetic /etc, /proc, a
  minimal /dev and one size-capped tmpfs at /tmp (the only writable place; cwd is /tmp/work).
- Host identity: when we are root, bwrap itself is started as uid/gid 65534 (nobody). Measured:
  a root-started bwrap maps the sandbox uid onto host root, which keeps a full capability bounding
  set and makes the kernel skip RLIMIT_NPROC, so a fork bomb is not contained. As host-nobody the
  sandbox is unprivileged even if every namespace fails, and NPROC is enforced.
- rlimits (CPU, address space, NPROC, FSIZE, NOFILE, no core) are set by a small runner inside the
  sandbox before the user's code is compiled; hard == soft, so the code cannot raise them. We avoid
  subprocess preexec_fn because the app is multi-threaded (preexec_fn can deadlock there).
- A wall-clock deadline SIGKILLs bwrap's process group; --die-with-parent and the pid namespace then
  take every sandboxed process with it.
- stdout/stderr are read incrementally and only the first OUTPUT_CAP bytes are kept; the rest is
  drained and dropped, so a print loop can neither block nor exhaust host memory.

Interpreter: /usr/bin/python3 (Debian's). The venv's python is a symlink into /root/.pyenv, and
home directories are never bound. For numpy/Pillow the venv's site-packages is bound read-only at
/opt/pkgs when its Python minor version matches (both are CPython 3.11 here).
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import math
import mimetypes
import os
import selectors
import shutil
import signal
import subprocess
import sys
import sysconfig
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from agents.code.memcg import RunGroup

SANDBOX_PYTHON = "/usr/bin/python3"
SANDBOX_UID = 65534  # nobody, both on the host and inside the user namespace
OUTPUT_CAP = 64 * 1024  # bytes kept per stream
MEMORY_LIMIT = 1 << 30  # RLIMIT_AS
NPROC_LIMIT = 64  # processes+threads of the sandbox uid
FSIZE_LIMIT = 16 << 20  # largest single file the code may write
TMPFS_SIZE = 128 << 20  # all of /tmp; tmpfs pages are RAM, so this must be bounded
SHM_SIZE = 16 << 20
NOFILE_LIMIT = 256
FILE_CAP = 5 << 20  # largest artifact returned
FILES_TOTAL_CAP = 10 << 20
MAX_FILES = 20
_ART_READ_CAP = FILES_TOTAL_CAP * 4 // 3 + 64 * 1024  # base64 + JSON overhead
_DRAIN_AFTER_KILL_S = 2.0

MISSING_BWRAP = (
    "bubblewrap (bwrap) is not installed; code execution is disabled: apt-get install bubblewrap"
)


class SandboxUnavailable(RuntimeError):
    """bwrap is missing or unusable; we never fall back to running code unsandboxed."""


@dataclass
class SandboxResult:
    exit_code: int
    stdout: str
    stderr: str
    timed_out: bool = False
    truncated: bool = False
    killed_reason: str | None = None  # wall_timeout|cpu_limit|memory_limit|file_size_limit|sigkill
    duration_ms: float = 0.0
    files: list[dict[str, Any]] = field(default_factory=list)  # {name, mime, size, b64}
    peak_memory_bytes: int | None = None  # the whole run's, when it ran in a memory cgroup

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# Executed inside the sandbox by /usr/bin/python3. Sets the limits first (and refuses to run the
# code if it cannot), runs the code as __main__, then streams files left in the working dir to the
# artifact fd as JSON lines. The code can write to that fd too; the host treats it as untrusted.
_RUNNER = r'''
import base64, json, os, resource as R, sys, traceback
cpu, mem, nproc, fsize, nofile, art_fd, files_out, fcap, tcap, nmax = map(int, sys.argv[1:11])
try:
    for lim, soft, hard in ((R.RLIMIT_CPU, cpu, cpu + 1), (R.RLIMIT_AS, mem, mem),
                            (R.RLIMIT_NPROC, nproc, nproc), (R.RLIMIT_FSIZE, fsize, fsize),
                            (R.RLIMIT_NOFILE, nofile, nofile), (R.RLIMIT_CORE, 0, 0)):
        R.setrlimit(lim, (soft, hard))
except Exception as e:
    print("sandbox: cannot set limits:", e, file=sys.stderr); os._exit(125)
os.set_inheritable(art_fd, False)
with open("/sandbox/main.py", encoding="utf-8", errors="replace") as f:
    src = f.read()
sys.argv = ["main.py"]; sys.path[0] = os.getcwd()
import linecache; linecache.cache["main.py"] = (len(src), None, src.splitlines(True), "main.py")
if os.path.isdir("/opt/pkgs"): sys.path.append("/opt/pkgs")
rc = 0
try:
    exec(compile(src, "main.py", "exec"), {"__name__": "__main__", "__file__": "main.py",
                                            "__builtins__": __builtins__})
except SystemExit as e:
    if e.code is None or isinstance(e.code, int): rc = e.code or 0
    else: print(e.code, file=sys.stderr); rc = 1
except BaseException as e:
    traceback.print_exception(type(e), e, e.__traceback__.tb_next); rc = 1
for s in (sys.stdout, sys.stderr):
    try: s.flush()
    except Exception: pass
if files_out:
    try:
        out, total, n = os.fdopen(art_fd, "wb"), 0, 0
        for root, dirs, names in os.walk(".", followlinks=False):
            for name in sorted(names):
                p = os.path.join(root, name); st = os.lstat(p)
                if not os.path.isfile(p) or os.path.islink(p) or n >= nmax: continue
                rec = {"name": os.path.relpath(p), "size": st.st_size}
                if st.st_size > fcap or total + st.st_size > tcap: rec["skipped"] = "too large"
                else:
                    with open(p, "rb") as f: rec["b64"] = base64.b64encode(f.read()).decode()
                    total += st.st_size
                out.write(json.dumps(rec).encode() + b"\n"); n += 1
        out.close()
    except Exception as e:
        print("sandbox: artifact collection failed:", e, file=sys.stderr)
sys.exit(rc)
'''


log = logging.getLogger(__name__)

# pasta gives approved network code its own network namespace: --config-net copies the host's
# addresses and routes into it; -T/-U none forward no namespace port to the host (by default
# pasta forwards every port the host listens on, loopback included); --no-map-gw stops the
# gateway address from standing in for the host. bwrap then runs in it with --share-net.
_PASTA_ARGS = ["--config-net", "--no-map-gw", "-T", "none", "-U", "none", "--quiet", "--"]
NO_PASTA = ("pasta (Debian package `passt`) is not installed: approved network code shares the "
            "host's network namespace, loopback services included")


def _pasta_path() -> str | None:
    # AGENTDESK_PASTA points at a specific binary; set it empty to go without (tests do both).
    configured = os.environ.get("AGENTDESK_PASTA", "pasta")
    return shutil.which(configured) if configured else None


def _bwrap_path() -> str:
    # AGENTDESK_BWRAP lets tests (and operators) point at a specific, or a missing, binary.
    configured = os.environ.get("AGENTDESK_BWRAP") or "bwrap"
    found = shutil.which(configured)
    if not found:
        raise SandboxUnavailable(MISSING_BWRAP)
    return found


def _site_packages() -> str | None:
    """The venv's site-packages if it is safe and useful to bind (numpy, Pillow)."""
    override = os.environ.get("AGENTDESK_SANDBOX_SITE_PACKAGES")
    if override is not None:
        path = override or None
    elif sys.prefix != sys.base_prefix and sys.version_info[:2] == (3, 11):  # Debian 12 python
        path = sysconfig.get_paths()["purelib"]
    else:
        path = None
    if not path or not os.path.isdir(path):
        return None
    real = Path(path).resolve()
    # Never expose a home directory or the project's data folder, whatever the config says.
    for forbidden in (Path.home(), Path("/root"), Path("/home")):
        if real == forbidden or forbidden in real.parents:
            return None
    if ".data" in real.parts:
        return None
    return str(real)


def _memfd(name: str, data: bytes) -> int:
    # Code and runner reach the sandbox through memfds: nothing is written to host disk and
    # nothing needs to be readable by the sandbox uid on the host.
    fd = os.memfd_create(name, 0)  # no MFD_CLOEXEC: bwrap must inherit it
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]
    os.lseek(fd, 0, os.SEEK_SET)
    return fd


_PASSWD = b"sandbox:x:65534:65534:sandbox:/tmp:/usr/sbin/nologin\n"
_GROUP = b"sandbox:x:65534:\n"


def _bwrap_argv(bwrap: str, *, code_fd: int, runner_fd: int, passwd_fd: int, group_fd: int,
                allow_network: bool) -> list[str]:
    argv = [
        bwrap,
        "--unshare-all", "--unshare-user", "--disable-userns",  # no nested userns from inside
        "--die-with-parent", "--new-session", "--cap-drop", "ALL",
        "--uid", str(SANDBOX_UID), "--gid", str(SANDBOX_UID), "--hostname", "sandbox",
        "--ro-bind", "/usr", "/usr",
        "--symlink", "usr/lib", "/lib", "--symlink", "usr/lib64", "/lib64",
        "--symlink", "usr/bin", "/bin", "--symlink", "usr/sbin", "/sbin",
        "--proc", "/proc", "--dev", "/dev",
        # bwrap's /dev is an unbounded tmpfs; keep /dev/shm (multiprocessing) but cap it.
        "--size", str(SHM_SIZE), "--tmpfs", "/dev/shm", "--remount-ro", "/dev",
        "--size", str(TMPFS_SIZE), "--tmpfs", "/tmp", "--dir", "/tmp/work",
        "--dir", "/etc",
        "--ro-bind-data", str(passwd_fd), "/etc/passwd",
        "--ro-bind-data", str(group_fd), "/etc/group",
        "--ro-bind-data", str(runner_fd), "/sandbox/runner.py",
        "--ro-bind-data", str(code_fd), "/sandbox/main.py",
    ]
    if allow_network:
        # The network namespace bwrap runs in (pasta's; see run_python), name resolution and CA
        # certificates; still every other namespace and limit.
        argv += ["--share-net"]
        for p in ("/etc/resolv.conf", "/etc/hosts", "/etc/nsswitch.conf", "/etc/gai.conf",
                  "/etc/ssl/certs"):
            argv += ["--ro-bind-try", p, p]
    if (site := _site_packages()) is not None:
        argv += ["--ro-bind", site, "/opt/pkgs"]
    argv += [
        "--clearenv", "--setenv", "PATH", "/usr/bin:/bin", "--setenv", "HOME", "/tmp",
        "--setenv", "LANG", "C.UTF-8", "--setenv", "MPLBACKEND", "Agg",
        "--setenv", "PYTHONDONTWRITEBYTECODE", "1",
        "--chdir", "/tmp/work",
        # bwrap's root is a private tmpfs and --dir dirs in it are writable and unbounded:
        # seal it so /tmp stays the only writable (and size-capped) place.
        "--remount-ro", "/",
    ]
    return argv


def _parse_files(raw: bytes) -> list[dict[str, Any]]:
    """Validate the runner's JSON lines; the sandboxed code could have forged them."""
    files: list[dict[str, Any]] = []
    for line in raw.splitlines()[:MAX_FILES]:
        try:
            rec = json.loads(line)
            name, b64 = str(rec["name"]), rec.get("b64")
            if not name or len(name) > 255 or name.startswith("/") or ".." in name.split("/"):
                continue
            if b64 is None:
                files.append({"name": name, "mime": None, "size": int(rec["size"]), "b64": None,
                              "skipped": str(rec.get("skipped", "too large"))})
                continue
            data = base64.b64decode(b64, validate=True)
        except (ValueError, KeyError, TypeError, binascii.Error):
            continue
        if len(data) > FILE_CAP:
            continue
        mime = "image/png" if data[:8] == b"\x89PNG\r\n\x1a\n" else (
            mimetypes.guess_type(name)[0] or "application/octet-stream")
        files.append({"name": name, "mime": mime, "size": len(data), "b64": b64})
    return files


def run_python(code: str, *, timeout_s: float = 10, allow_network: bool = False,
               files_out: bool = True) -> SandboxResult:
    """Run `code` in the sandbox and return what it printed, its exit and the files it wrote.

    Raises SandboxUnavailable when bwrap is missing; never runs code outside the sandbox.
    """
    bwrap = _bwrap_path()
    timeout_s = max(0.1, float(timeout_s))
    cpu_s = max(1, math.ceil(timeout_s))
    fds = {k: _memfd(k, v) for k, v in (("code", code.encode("utf-8", "surrogatepass")),
                                         ("runner", _RUNNER.encode()),
                                         ("passwd", _PASSWD), ("group", _GROUP))}
    art_r, art_w = os.pipe()
    argv = _bwrap_argv(bwrap, code_fd=fds["code"], runner_fd=fds["runner"],
                       passwd_fd=fds["passwd"], group_fd=fds["group"], allow_network=allow_network)
    if allow_network:
        if pasta := _pasta_path():
            argv = [pasta, *_PASTA_ARGS, *argv]  # exit codes pass through pasta unchanged
        else:
            log.warning(NO_PASTA)
    argv += [SANDBOX_PYTHON, "-B", "-s", "/sandbox/runner.py",
             str(cpu_s), str(MEMORY_LIMIT), str(NPROC_LIMIT), str(FSIZE_LIMIT), str(NOFILE_LIMIT),
             str(art_w), str(int(files_out)), str(FILE_CAP), str(FILES_TOTAL_CAP), str(MAX_FILES)]
    drop: dict[str, Any] = {}
    if os.geteuid() == 0:
        drop = {"user": SANDBOX_UID, "group": SANDBOX_UID, "extra_groups": []}
    group = RunGroup.create(MEMORY_LIMIT, SANDBOX_UID if drop else None)  # the run's memory, all processes
    if group is not None:
        argv = group.wrap(argv)
    start = time.monotonic()
    try:
        proc = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            pass_fds=(*fds.values(), art_w), start_new_session=True, env={}, close_fds=True,
            **drop,
        )
    except OSError as exc:
        if group is not None:
            group.remove()
        raise SandboxUnavailable(f"cannot start bwrap: {exc}") from exc
    finally:
        for fd in (*fds.values(), art_w):
            os.close(fd)
    art = os.fdopen(art_r, "rb", buffering=0)
    caps = {proc.stdout: OUTPUT_CAP, proc.stderr: OUTPUT_CAP, art: _ART_READ_CAP}
    bufs: dict[Any, bytearray] = {f: bytearray() for f in caps}
    over: set[Any] = set()
    timed_out = False
    deadline = start + timeout_s
    sel = selectors.DefaultSelector()
    for f in caps:
        os.set_blocking(f.fileno(), False)
        sel.register(f, selectors.EVENT_READ)
    try:
        while sel.get_map():
            now = time.monotonic()
            if not timed_out and now >= deadline:
                timed_out = True
                _kill(proc)
                deadline = now + _DRAIN_AFTER_KILL_S  # pipes close once the pid ns is gone
            elif timed_out and now >= deadline:
                break
            for key, _ in sel.select(timeout=max(0.0, deadline - now)):
                f = key.fileobj
                chunk = os.read(key.fd, 65536)
                if not chunk:
                    sel.unregister(f)
                    continue
                room = caps[f] - len(bufs[f])
                if len(chunk) > room:
                    over.add(f)
                bufs[f] += chunk[: max(0, room)]
        try:
            # Code that closed its stdio early still gets only the time left on the deadline.
            exit_code = proc.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            timed_out = True
            _kill(proc)
            exit_code = proc.wait()
    finally:
        sel.close()
        for f in caps:
            f.close()
        if proc.poll() is None:
            _kill(proc)
            proc.wait()
        oom, peak = (group.oom_killed(), group.peak_bytes()) if group is not None else (False, None)
        if group is not None:  # empty only once the pid namespace is gone: ~15 ms nobody waits for
            threading.Thread(target=group.remove, name="sandbox-cgroup-rmdir", daemon=True).start()
    stderr = bufs[proc.stderr].decode("utf-8", "replace")
    reason = _killed_reason(exit_code, timed_out, stderr)
    return SandboxResult(
        exit_code=exit_code,
        stdout=bufs[proc.stdout].decode("utf-8", "replace"),
        stderr=stderr,
        timed_out=timed_out,
        truncated=bool(over & {proc.stdout, proc.stderr}),
        killed_reason="memory_limit" if oom and reason in (None, "sigkill") else reason,
        duration_ms=round((time.monotonic() - start) * 1000, 1),
        files=_parse_files(bytes(bufs[art])) if files_out else [],
        peak_memory_bytes=peak,
    )


def _kill(proc: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def _killed_reason(exit_code: int, timed_out: bool, stderr: str) -> str | None:
    # bwrap reports a child killed by signal N as exit code 128+N.
    if timed_out:
        return "wall_timeout"
    if exit_code == 128 + signal.SIGXCPU:
        return "cpu_limit"
    if exit_code == 128 + signal.SIGKILL:
        return "sigkill"  # the CPU hard limit, the kernel OOM killer, or the code itself
    # Python ignores SIGXFSZ, so RLIMIT_FSIZE surfaces as OSError(EFBIG).
    if exit_code == 128 + signal.SIGXFSZ or (exit_code != 0 and "File too large" in stderr[-2000:]):
        return "file_size_limit"
    if exit_code != 0 and "MemoryError" in stderr[-2000:]:
        return "memory_limit"
    return None
