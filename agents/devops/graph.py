"""The DevOps specialist subgraph."""

from agents.devops import offline, prompts, tools
from graphs.specialist import build_specialist

# gather -> runbook -> propose -> verify -> report is five model calls; two spare for a served
# model that fixes a bad query, and the limit still ends a loop that never converges.
MAX_STEPS = 8


def build_graph():
    return build_specialist("devops", tools.TOOLS, prompts.SYSTEM, offline.policy, max_steps=MAX_STEPS)


graph = build_graph()
