"""The Ray executor against a real local Ray, with PostgreSQL and S3 (moto's server) as the store.

Each step is a Ray core task; what it registers goes through PostgreSQL and the S3 artifact
store, so another process that knows only the store settings reads the outputs back.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.integration.pipelines.helpers import basic, folder
from tests.integration.test_s3_artifacts import s3_endpoint  # noqa: F401  (the moto S3 server fixture)

from llmloop.config import reset_settings


@pytest.fixture
def local_ray() -> Iterator[Any]:
    ray = pytest.importorskip("ray")
    ray.init(num_cpus=2, include_dashboard=False, logging_level="ERROR", log_to_driver=False)
    yield ray
    ray.shutdown()


@pytest.mark.slow
@pytest.mark.postgres
@pytest.mark.usefixtures("s3_endpoint")
def test_a_pipeline_on_ray_with_postgres_and_s3(
    tmp_path: Path,
    postgres_url: str,
    monkeypatch: pytest.MonkeyPatch,
    local_ray: Any,
) -> None:
    import llmloop as ll

    monkeypatch.setenv("LLMLOOP_DATABASE_URL", postgres_url)
    monkeypatch.setenv("LLMLOOP_ARTIFACTS_URL", "s3://llmloop-test/pipelines")
    reset_settings()
    work = folder(tmp_path)
    defn = basic()
    defn["steps"][1]["resources"] = {"cpus": 1, "memory_mb": 256}
    run = ll.pipelines.run(work.pipeline(defn), executor="ray")
    assert run.status == "finished", [(s.name, s.error) for s in run.steps]
    assert run.executor == "ray"
    assert run.step("twice").outputs == {"value": "rows: 12"}
    assert sorted(work.calls()) == ["constant", "count_rows", "double"]
    again = ll.pipelines.run(work.pipeline(defn), executor="ray")
    assert {s.cache for s in again.steps} == {"hit"}

    reader = (
        "import llmloop as ll\n"
        "from llmloop.context import local_context\n"
        "assert not local_context().artifacts.is_local\n"
        f"print(ll.get_client().pipelines.get_run({run.id!r}).step('count').outputs['rows'],"
        " ll.datasets.get('rows@1').to_arrow().num_rows)\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    out = subprocess.run([sys.executable, "-c", reader], env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split() == ["6", "6"]
