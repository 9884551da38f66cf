"""The static risk scan and its wiring into the tool-risk registry."""

from __future__ import annotations

import pytest

from agents.code.policy import assess_code
from agents.code.tools import run_python
from guardrails.policy import PolicyError, Risk, check_call, get_spec

LOW = [
    "print(sum(range(10)))",
    "import numpy as np\nprint(np.arange(5).mean())",
    "import math, statistics, json\nprint(json.dumps({'x': math.pi}))",
    "import platform; print(platform.system())",  # .system() but not os.system
    "import re\npattern = r'a+'\nre.compile(pattern)",  # re.compile, not the builtin
    "# docs at https://numpy.org\nprint(1)",  # a URL in a comment fetches nothing
    "eval('1 + 2')",
    "from PIL import Image\nImage.new('RGB', (4, 4)).save('x.png')",
]

HIGH_NETWORK = [
    "import socket\nsocket.create_connection(('db', 5432))",
    "import requests\nrequests.get('https://example.com')",
    "import httpx",
    "from urllib.request import urlopen",
    "import http.client as hc",
    "import aiohttp",
    "__import__('socket')",
    "import importlib\nimportlib.import_module('urllib.request')",
    "exec('import socket')",
    "import pandas as pd\npd.read_csv('https://example.com/x.csv')",
    "import socket\nthis is not valid python (",  # regex fallback
]

HIGH_INSTALL_OR_SHELL = [
    "import subprocess\nsubprocess.run(['pip', 'install', 'requests'])",
    "import os\nos.system('pip install requests')",
    "import os as o\no.popen('apt-get install -y curl')",
    "from os import system\nsystem('ls')",
    "import sys, subprocess\nsubprocess.check_call([sys.executable, '-m', 'pip', 'install', 'x'])",
    "!pip install numpy",  # notebook magic: not Python, regex fallback
    "import pip\npip.main(['install', 'x'])",
    "exec(open('payload.py').read())",  # hides what runs
]


@pytest.mark.parametrize("code", LOW)
def test_plain_computation_is_low(code: str) -> None:
    a = assess_code(code)
    assert (a.risk, a.reasons) == ("low", [])


@pytest.mark.parametrize("code", HIGH_NETWORK)
def test_network_use_is_high_and_wants_network(code: str) -> None:
    a = assess_code(code)
    assert a.risk == "high" and a.wants_network, a
    assert any(r.startswith("network") for r in a.reasons)


@pytest.mark.parametrize("code", HIGH_INSTALL_OR_SHELL)
def test_installs_and_shell_are_high(code: str) -> None:
    a = assess_code(code)
    assert a.risk == "high", a
    assert a.reasons


def test_shell_without_network_stays_offline_when_approved() -> None:
    a = assess_code("import os\nos.system('ls /tmp')")
    assert a.risk == "high" and not a.wants_network


def test_install_is_given_network_when_approved() -> None:
    assert assess_code("import os\nos.system('pip install rich')").wants_network


def test_syntax_error_alone_is_low_but_noted() -> None:
    a = assess_code("print(1")
    assert a.risk == "low" and a.reasons == ["code does not parse; scanned as text"]


def test_registered_with_argument_dependent_risk() -> None:
    spec = get_spec("run_python")
    assert spec.tool is run_python and spec.agents == frozenset({"code"})
    assert not spec.side_effects
    assert set(spec.schema["properties"]) == {"code", "timeout_s"}
    _, low = check_call("code", "run_python", {"code": "print(1)"})
    _, high = check_call("code", "run_python", {"code": "import requests"})
    assert (low, high) == (Risk.low, Risk.high)
    assert "network: imports requests" in spec.description_for({"code": "import requests"})


def test_other_agents_cannot_call_it() -> None:
    with pytest.raises(PolicyError):
        check_call("research", "run_python", {"code": "print(1)"})
    with pytest.raises(PolicyError):
        check_call("code", "run_python", {"timeout_s": 3})  # code is required


@pytest.mark.parametrize("code", ["x = 1" + "+1" * 10000, "x = " + "-" * 3000 + "1", "x = " + "-" * 6000 + "1"])
def test_code_nested_past_the_parser_needs_approval_instead_of_crashing(code):
    # RecursionError / MemoryError escaped assess_code, crashed the approval node, and since the
    # unanswered call stays in the thread, crashed it again on every resume.
    a = assess_code(code)
    assert a.risk == "high" and "code nested too deeply to scan" in a.reasons
    _, risk = check_call("code", "run_python", {"code": code})
    assert risk.needs_approval


def test_a_scanner_that_fails_is_a_policy_error_not_a_crash(monkeypatch):
    from guardrails import policy

    def broken(self, args):
        raise RuntimeError("scanner bug")

    monkeypatch.setattr(policy.ToolSpec, "risk_for", broken)
    with pytest.raises(policy.PolicyError, match="could not be assessed"):
        policy.check_call("code", "run_python", {"code": "print(1)"})


@pytest.mark.parametrize("code, reason", [
    ("import os\ngetattr(os, 'system')('id')", "process: reaches os.system through getattr"),
    ("import os\ngetattr(os, name)()", "dynamic: getattr() on os"),
    ("import builtins\nbuiltins.__import__('socket')", "network: dynamically imports socket"),
    ("import importlib\nimportlib.__import__('socket')", "network: dynamically imports socket"),
    ("from importlib import import_module as im\nim('socket')", "dynamic: imports importlib"),
    ("import sys\nsys.modules['os'].system('id')", "dynamic: reaches a module through sys.modules"),
    ("import ctypes\nctypes.CDLL(None).system(b'id')", "process: imports ctypes"),
    ("import base64\ne = exec\ne(base64.b64decode('cHJpbnQoMSk='))", "dynamic: renames exec"),
    ("import _socket", "network: imports _socket"),
])
def test_calls_hidden_behind_names_need_approval(code, reason):
    # A ninth-session audit ran a shell through getattr(os, 'system') as low risk (the sandbox
    # still contained it: no network, uid 65534), and imported socket through builtins.__import__.
    a = assess_code(code)
    assert a.risk == "high" and any(r.startswith(reason) for r in a.reasons), a.reasons


@pytest.mark.parametrize("code", ["x = getattr(obj, 'value', 0)", "import os\nprint(os.getcwd())",
                                  "import pandas as pd\nprint(pd.DataFrame({'a': [1]}).describe())"])
def test_ordinary_getattr_and_os_stay_low_risk(code):
    assert assess_code(code).risk == "low"
