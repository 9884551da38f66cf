"""The code specialist subgraph."""

from agents.code import offline, prompts
from agents.code.tools import run_python
from graphs.specialist import build_specialist


def build_graph():
    return build_specialist("code", [run_python], prompts.SYSTEM, offline.policy)


graph = build_graph()
