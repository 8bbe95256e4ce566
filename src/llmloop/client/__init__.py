"""The one door between every interface and the services.

    client = get_client()          # LocalClient, or RemoteClient when LLMLOOP_SERVER_URL is set
    client.runs.get_run(run_id)    # one typed sub-API per noun: runs, datasets, prompts, models, …

``LocalClient`` calls the services in-process on the configured store; ``RemoteClient`` calls
``/api/v1`` through one pooled HTTP connection and rebuilds the server's error classes. Both
expose the same sub-APIs with the same schemas, so the SDK (``ll.*``), the CLI, the examples and
the quickstart cannot tell which they hold. The calls a remote sub-API makes are the entries of
``llmloop.client.table``, the same table the REST routers are mounted from.
"""

from __future__ import annotations

from llmloop.client.base import Client, LocalClient, RemoteClient, get_client

__all__ = ["Client", "LocalClient", "RemoteClient", "get_client"]
