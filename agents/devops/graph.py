"""The DevOps specialist subgraph."""

from agents.devops import offline, prompts, tools
from graphs.specialist import build_specialist


def build_graph():
    return build_specialist("devops", tools.TOOLS, prompts.SYSTEM, offline.policy)


graph = build_graph()
