"""Shared fixtures: an isolated LLMLOOP_HOME per test, the store on SQLite and PostgreSQL, API and CLI drivers.

PostgreSQL tests run when LLMLOOP_TEST_POSTGRES_URL is set; each gets a fresh schema.
Under .ci/run (LLMLOOP_TEST_REQUIRE_SERVICES=1) an unreachable service fails the test
instead of skipping it.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

if os.environ.get("PYTEST_XDIST_WORKER"):
    # `make test` runs two workers on two cores: each worker's torch, and every server or CLI
    # process it starts, computes on one thread. Two OpenMP pools spinning on the same cores slow
    # each other down many times over (measured: a 40 ms forward took 1.9 s).
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    os.environ.setdefault("MKL_NUM_THREADS", "1")

from llmloop.config import reset_settings  # after the thread settings: nothing has loaded torch yet

POSTGRES_URL = os.environ.get("LLMLOOP_TEST_POSTGRES_URL")
REDIS_URL = os.environ.get("LLMLOOP_TEST_REDIS_URL")
REQUIRE_SERVICES = os.environ.get("LLMLOOP_TEST_REQUIRE_SERVICES") == "1"
_ENV_KEYS = (
    "LLMLOOP_HOME",
    "LLMLOOP_DATABASE_URL",
    "LLMLOOP_ARTIFACTS_URL",
    "LLMLOOP_SERVER_URL",
    "LLMLOOP_API_KEY",
    "LLMLOOP_EXECUTOR",
    "LLMLOOP_DEFAULT_PROJECT",
    "LLMLOOP_ENCRYPTION_KEY",
    "LLMLOOP_MASTER_KEY",
    "LLMLOOP_MASTER_KEY_FILE",
    "LLMLOOP_ENCRYPT_ARTIFACTS",
    "LLMLOOP_AUTH_REQUIRED",
    "LLMLOOP_CORS_ORIGINS",
    "LLMLOOP_MAX_BODY_BYTES",
)


def pytest_report_header(config: pytest.Config) -> list[str]:
    pg = (
        f"on ({POSTGRES_URL})"
        if POSTGRES_URL
        else "OFF: POSTGRESQL TESTS ARE SKIPPED (set LLMLOOP_TEST_POSTGRES_URL)"
    )
    rd = f"on ({REDIS_URL})" if REDIS_URL else "OFF: REDIS TESTS ARE SKIPPED (set LLMLOOP_TEST_REDIS_URL)"
    return [f"sqlite {sqlite3.sqlite_version}", f"postgres {pg}", f"redis {rd}"]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Under xdist, the files that hold a ``slow`` test go first (each file kept whole, for its
    module fixtures): the two workers then share the long tests and finish together, instead of one
    running the last long file alone while the other idles."""
    if os.environ.get("PYTEST_XDIST_WORKER"):
        slow_files = {item.path for item in items if item.get_closest_marker("slow")}
        items.sort(key=lambda item: item.path not in slow_files)


def service_missing(what: str) -> None:
    """Skip (on a user's machine) or fail (under CI) when a service the test needs is absent."""
    msg = f"{what} is not configured or not reachable"
    if REQUIRE_SERVICES:
        pytest.fail(msg + " (LLMLOOP_TEST_REQUIRE_SERVICES=1)")
    pytest.skip(msg)


@pytest.fixture(autouse=True)
def isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Every test gets its own LLMLOOP_HOME and fresh settings; no test sees another's store."""
    for key in _ENV_KEYS:
        monkeypatch.delenv(key, raising=False)
    home = tmp_path / "home"
    monkeypatch.setenv("LLMLOOP_HOME", str(home))
    monkeypatch.setenv("LLMLOOP_FLUSH_INTERVAL_S", "0.2")
    reset_settings()
    yield home
    reset_settings()


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh PostgreSQL schema, dropped afterwards."""
    if not POSTGRES_URL:
        service_missing("PostgreSQL (LLMLOOP_TEST_POSTGRES_URL)")
    assert POSTGRES_URL
    from sqlalchemy import create_engine, text

    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(POSTGRES_URL)
    try:
        with admin.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    except Exception as e:  # unreachable server
        admin.dispose()
        service_missing(f"PostgreSQL at {POSTGRES_URL} ({type(e).__name__})")
    sep = "&" if "?" in POSTGRES_URL else "?"
    yield f"{POSTGRES_URL}{sep}options=-csearch_path%3D{schema}"
    reset_settings()
    with admin.begin() as conn:
        conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


@pytest.fixture(params=["sqlite", "postgres"])
def store_url(request: pytest.FixtureRequest, isolated_home: Path) -> str:
    """The metadata DB URL, once per backend."""
    if request.param == "postgres":
        return str(request.getfixturevalue("postgres_url"))
    return f"sqlite:///{isolated_home / 'llmloop.db'}"


@pytest.fixture
def ctx(store_url: str, monkeypatch: pytest.MonkeyPatch) -> Any:
    """A service Context on each backend, acting as the local admin."""
    from llmloop.context import local_context

    monkeypatch.setenv("LLMLOOP_DATABASE_URL", store_url)
    reset_settings()
    return local_context()


@pytest.fixture
def api(ctx: Any) -> Iterator[Any]:
    """The FastAPI app in-process over the same store as ``ctx``."""
    from fastapi.testclient import TestClient

    from llmloop.server.app import create_app

    with TestClient(create_app(ctx)) as client:
        yield client


@dataclass
class CliResult:
    exit_code: int
    stdout: str
    stderr: str


def run_cli(*args: str, input: str | None = None) -> CliResult:
    """Run ``llmloop ARGS…`` in-process; returns exit code, stdout and stderr apart."""
    from llmloop.cli import cli as root

    # One table width wherever the suite runs (a terminal, a pipe, an xdist worker).
    result = CliRunner(env={"COLUMNS": "160"}).invoke(root, list(args), input=input, prog_name="llmloop")
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return CliResult(result.exit_code, result.stdout, result.stderr)


@pytest.fixture
def cli() -> Any:
    """``run_cli`` as a fixture (module-scoped fixtures call ``run_cli`` itself)."""
    return run_cli


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class LiveServer:
    url: str
    proc: Any
    env: dict[str, str]


@contextlib.contextmanager
def serving_llmloop(home: Path, extra_env: dict[str, str] | None = None) -> Iterator[LiveServer]:
    """``llmloop serve`` as a real subprocess on 127.0.0.1:<free port> over ``home``, for the block.

    The server's environment is this process's without any ``LLMLOOP_*`` variable, plus ``extra_env``.
    """
    import subprocess
    import sys
    import time

    import httpx

    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("LLMLOOP_")}
    env.update(LLMLOOP_HOME=str(home), PYTHONUNBUFFERED="1", **(extra_env or {}))
    proc = subprocess.Popen(
        [sys.executable, "-m", "llmloop", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 60
    while True:
        try:
            if httpx.get(f"{url}/api/v1/health", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if proc.poll() is not None or time.time() > deadline:
            out = proc.stdout.read().decode() if proc.stdout else ""
            proc.kill()
            pytest.fail(f"server did not start: {out[-2000:]}")
        time.sleep(0.1)
    try:
        yield LiveServer(url, proc, env)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.fixture
def live_server(request: pytest.FixtureRequest, isolated_home: Path) -> Iterator[LiveServer]:
    """``llmloop serve`` over the test's home. A test module may declare ``SERVER_ENV`` (e.g. a master
    key) for the server's environment."""
    with serving_llmloop(isolated_home, getattr(request.module, "SERVER_ENV", {})) as server:
        yield server
