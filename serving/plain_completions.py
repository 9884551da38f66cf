"""Chat completions sent as the JSON LangChain built, without the OpenAI SDK's typed transform.

`AsyncCompletions.create` walks every request through `async_maybe_transform` against its
TypedDict schemas before sending it: each message, each tool and each tool's JSON schema, so the
cost grows with the thread's history. Under `agentdesk bench load` that walk was 12 % of the
server's CPU (py-spy, fifth session). LangChain's request payload is already plain JSON (its
messages and tools are converted dicts; chat completion parameters have no aliases or file
fields to transform), so this subclass posts it as it is. Everything else is the SDK's own:
the client, headers, errors, timeouts, the raw-response wrapper and streaming.
`tests/unit/test_gateway.py` checks that the JSON the server receives equals what the SDK sends.
"""

from __future__ import annotations

from typing import Any

import openai
from openai._base_client import make_request_options
from openai.resources.chat.completions import AsyncCompletions
from openai.types.chat import ChatCompletion, ChatCompletionChunk


class PlainAsyncCompletions(AsyncCompletions):
    async def create(  # type: ignore[override]
        self,
        *,
        extra_headers: Any = None,
        extra_query: Any = None,
        extra_body: Any = None,
        timeout: Any = openai.NOT_GIVEN,
        **body: Any,
    ) -> ChatCompletion | openai.AsyncStream[ChatCompletionChunk]:
        return await self._post(
            "/chat/completions",
            body=body,
            options=make_request_options(extra_headers=extra_headers, extra_query=extra_query,
                                         extra_body=extra_body, timeout=timeout),
            cast_to=ChatCompletion,
            stream=bool(body.get("stream")),
            stream_cls=openai.AsyncStream[ChatCompletionChunk],
        )


def plain_clients(base_url: str, api_key: str, timeout_s: float) -> dict[str, Any]:
    """`root_async_client` and `async_client` arguments for `ChatOpenAI`; retries stay ours."""
    root = openai.AsyncOpenAI(base_url=base_url, api_key=api_key, timeout=timeout_s, max_retries=0)
    return {"root_async_client": root, "async_client": PlainAsyncCompletions(root)}
