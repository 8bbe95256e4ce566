"""Server-sent events the way OpenAI streams: ``data: {json}\\n\\n`` per chunk, then ``data: [DONE]``.

A failure after the first chunk cannot change the status line any more, so it is sent as an
``error`` event (the official client raises ``APIError`` on it) and the stream ends.
"""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator
from typing import Any

from llmloop.errors import LlmloopError
from llmloop.server.gateway.errors import error_body


def event(data: Any) -> bytes:
    return b"data: " + json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode() + b"\n\n"


DONE = b"data: [DONE]\n\n"


async def sse(
    first: dict[str, Any] | None, rest: AsyncGenerator[dict[str, Any], None]
) -> AsyncGenerator[bytes, None]:
    """The events of a stream; closing it (the client left) closes ``rest``, which stops the target."""
    try:
        if first is not None:
            yield event(first)
        async for chunk in rest:
            yield event(chunk)
    except LlmloopError as e:
        yield event(error_body(e.http_status, e.message, code=e.code))
        return
    except Exception as e:  # the client gets an error event instead of a cut stream
        yield event(error_body(500, f"internal error: {type(e).__name__}", code="internal_error"))
        return
    finally:
        await rest.aclose()
    yield DONE
