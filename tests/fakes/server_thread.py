"""Run an ASGI app with uvicorn on a background thread on 127.0.0.1: real sockets for tests."""

from __future__ import annotations

import threading
import time
from typing import Any

import uvicorn


class ServerThread:
    """``with ServerThread(app, port) as srv:`` serves ``app`` at ``srv.url`` until the block ends."""

    def __init__(self, app: Any, port: int) -> None:
        self.url = f"http://127.0.0.1:{port}"
        self.server = uvicorn.Server(
            uvicorn.Config(
                app,
                host="127.0.0.1",
                port=port,
                log_level="error",
                access_log=False,
                lifespan="auto",  # an app with a lifespan (the gateway) closes its connections at exit
                timeout_graceful_shutdown=1,  # a request still hanging (a fault) does not hold up the exit
            )
        )
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> ServerThread:
        self.thread.start()
        deadline = time.time() + 20
        while not self.server.started:
            if time.time() > deadline or not self.thread.is_alive():
                raise RuntimeError(f"server on {self.url} did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
