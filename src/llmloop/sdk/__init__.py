"""The client the SDK and the CLI talk through: local services, or a server over HTTP."""

from __future__ import annotations

from llmloop.sdk.client import Client, get_client

__all__ = ["Client", "get_client"]
