"""The data specialist subgraph."""

from agents.data import offline, prompts
from agents.data.schema_context import relevant_schema
from agents.data.tools import TOOLS
from graphs.specialist import build_specialist


def build_graph():
    return build_specialist("data", TOOLS, prompts.SYSTEM, offline.policy, context=relevant_schema)


graph = build_graph()
