"""The Ray executor: each step attempt as a Ray core task with the step's CPU, GPU and memory request.

``RayExecutor(None)`` starts (or joins) a local Ray instance; ``RayExecutor("ray://head:10001")``
joins a cluster through Ray Client. Not Ray Workflows (deprecated in Ray 2.44, removed after
2.47): the pipeline's state lives in the llmloop database, so a task only carries store settings
and returns the step's outputs as JSON; artifacts go to the artifact store (S3 at scale), never
only to Ray's object store.
"""

from __future__ import annotations

import logging
import os
import threading
from typing import Any

from llmloop.errors import Unavailable
from llmloop.executors.base import StepOutcome, StepTask

_lock = threading.Lock()


def _entry(task_json: str) -> str:
    """What runs on the Ray worker: the same ``execute`` the local worker process calls."""
    from llmloop.executors.worker import execute

    return execute(StepTask.from_json(task_json)).to_json()


class RayExecutor:
    name = "ray"

    def __init__(self, address: str | None) -> None:
        try:
            import ray
        except ImportError as e:
            raise Unavailable("the ray executor needs: pip install 'llmloop[ray]'") from e
        self.address = address
        self._ray: Any = ray
        with _lock:
            if not ray.is_initialized():
                ray.init(
                    address=address,
                    include_dashboard=False,
                    logging_level=logging.WARNING,
                    log_to_driver=False,
                )
        self._remote = ray.remote(_entry)

    def run(self, task: StepTask) -> StepOutcome:
        ray = self._ray
        env = dict(task.env)
        if "PYTHONPATH" in os.environ:  # a user's function module must import on the worker too
            env.setdefault("PYTHONPATH", os.environ["PYTHONPATH"])
        options: dict[str, Any] = {
            "num_cpus": task.cpus,
            "num_gpus": task.gpus,
            "max_retries": 0,  # retries are the pipeline's, with its backoff and its records
            "runtime_env": {"env_vars": env},
        }
        if task.memory_mb:
            options["memory"] = task.memory_mb * 1024 * 1024
        ref = self._remote.options(**options).remote(task.to_json())
        try:
            text = ray.get(ref, timeout=task.timeout_s)
        except ray.exceptions.GetTimeoutError:
            ray.cancel(ref, force=True)
            return StepOutcome(ok=False, error=f"timed out after {task.timeout_s:g} s", killed=True)
        except (ray.exceptions.WorkerCrashedError, ray.exceptions.TaskCancelledError) as e:
            return StepOutcome(ok=False, error=f"ray worker died: {type(e).__name__}", killed=True)
        except ray.exceptions.RayError as e:
            return StepOutcome(ok=False, error=f"ray: {type(e).__name__}: {str(e)[:500]}")
        return StepOutcome.from_json(text)

    def close(self) -> None:
        return None
