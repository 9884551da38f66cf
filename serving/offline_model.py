"""The offline model: deterministic, no weights, and honest about being offline.

It is a real LangChain chat model, so every node runs the same code path offline as with
vLLM (tool binding, tool calls, the approval interrupt, tool execution). What it says is
decided by a per-role *policy* that the owning package supplies (the router's semantic
routing lives in `graphs/routing.py`, each specialist's in `agents/<name>/offline.py`).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from pydantic import BaseModel

OFFLINE_MODEL_NAME = "agentdesk-offline"
OFFLINE_LABEL = "[offline model]"

# A policy maps the conversation to the model's reply: an AIMessage (text or tool calls),
# or, for structured-output roles, an instance of the requested schema.
OfflinePolicy = Callable[[list[BaseMessage]], AIMessage | BaseModel | dict]


def _approx_tokens(text: str) -> int:
    return max(1, len(text) // 4)


def tool_call(name: str, args: dict[str, Any]) -> dict[str, Any]:
    return {"name": name, "args": args, "id": f"call_{uuid.uuid4().hex[:12]}", "type": "tool_call"}


class OfflineChatModel(BaseChatModel):
    role: str = "default"
    policy: Any = None
    tool_names: list[str] = []

    @property
    def _llm_type(self) -> str:
        return OFFLINE_MODEL_NAME

    def bind_tools(self, tools: Sequence[Any], **kwargs: Any) -> OfflineChatModel:
        names = [getattr(t, "name", None) or getattr(t, "__name__", str(t)) for t in tools]
        return OfflineChatModel(role=self.role, policy=self.policy, tool_names=names)

    def _reply(self, messages: list[BaseMessage]) -> AIMessage:
        if self.policy is None:
            text = "I have no offline behaviour for this step."
            return AIMessage(content=f"{OFFLINE_LABEL} {text}")
        reply = self.policy(messages)
        if not isinstance(reply, AIMessage):
            raise TypeError(f"offline policy for {self.role!r} returned {type(reply).__name__}")
        # Drop calls to tools this node was not given: a policy bug must not escalate access.
        calls = [c for c in reply.tool_calls if not self.tool_names or c["name"] in self.tool_names]
        content = reply.content
        if not calls and isinstance(content, str) and not content.startswith(OFFLINE_LABEL):
            content = f"{OFFLINE_LABEL} {content}"
        return AIMessage(content=content, tool_calls=calls, additional_kwargs=reply.additional_kwargs)

    def _generate(self, messages: list[BaseMessage], stop=None, run_manager=None, **kw) -> ChatResult:
        message = self._reply(messages)
        prompt = sum(_approx_tokens(str(m.content)) for m in messages)
        out = _approx_tokens(str(message.content)) + 10 * len(message.tool_calls)
        message.usage_metadata = {"input_tokens": prompt, "output_tokens": out, "total_tokens": prompt + out}
        message.response_metadata = {"model_name": OFFLINE_MODEL_NAME, "finish_reason": "stop"}
        return ChatResult(generations=[ChatGeneration(message=message)])

    async def _agenerate(self, messages, stop=None, run_manager=None, **kw) -> ChatResult:
        return self._generate(messages, stop=stop, **kw)

    def structured(self, schema: type[BaseModel], messages: list[BaseMessage]) -> BaseModel:
        if self.policy is None:
            raise ValueError(f"no offline policy for structured role {self.role!r}")
        out = self.policy(messages)
        return out if isinstance(out, schema) else schema.model_validate(out)
