"""The research specialist subgraph."""

from agents.research import offline, prompts, tools
from graphs.specialist import build_specialist


def build_graph():
    return build_specialist("research", tools.TOOLS, prompts.SYSTEM, offline.policy)


graph = build_graph()
