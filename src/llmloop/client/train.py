"""``client.train``: fine-tuning and sweeps, which run where the weights and the store are.

Training executes in the caller's process (the executor layer will move it onto workers). Through a
``LocalClient`` it runs against the configured store. Through a ``RemoteClient`` it is refused
rather than run against this machine's local store, which would record the run, the adapter and
the model version where the server never sees them (the switch issue 13 removes).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Protocol

from llmloop.client.routes import Route
from llmloop.errors import Unavailable

if TYPE_CHECKING:
    from llmloop.client.http import Http
    from llmloop.context import Context
    from llmloop.services.train.config import TrainConfig
    from llmloop.services.train.schemas import Plan, TrainResult
    from llmloop.services.train.sweep import SweepResult
    from llmloop.services.train.sweep_config import Sweep
    from llmloop.services.train.teacher import Teacher

ROUTES: list[Route] = []


class Train(Protocol):
    def train(
        self, config: TrainConfig, *, teacher: Teacher | None, callbacks: Sequence[Any], progress: bool
    ) -> TrainResult: ...
    def plan(self, config: TrainConfig) -> Plan: ...
    def resume(self, run_id: str, *, progress: bool) -> TrainResult: ...
    def sweep(self, sweep: Sweep, *, executor: str | None, promote: bool | None) -> SweepResult: ...


class LocalTrain:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    def train(
        self, config: TrainConfig, *, teacher: Teacher | None, callbacks: Sequence[Any], progress: bool
    ) -> TrainResult:
        from llmloop.services.train.service import TrainOptions
        from llmloop.services.train.service import train as run_training

        options = TrainOptions(teacher=teacher, callbacks=callbacks, show_progress=progress)
        return run_training(self.ctx, config=config, options=options)

    def plan(self, config: TrainConfig) -> Plan:
        from llmloop.services.train.service import plan_training

        return plan_training(self.ctx, config=config)

    def resume(self, run_id: str, *, progress: bool) -> TrainResult:
        from llmloop.services.train.resume import resume_training
        from llmloop.services.train.service import TrainOptions

        return resume_training(self.ctx, run_id=run_id, options=TrainOptions(show_progress=progress))

    def sweep(self, sweep: Sweep, *, executor: str | None, promote: bool | None) -> SweepResult:
        from llmloop.services.train.sweep import run_sweep

        return run_sweep(self.ctx, sweep=sweep, executor=executor, promote=promote)


_REMOTE = (
    "training runs in the process that holds the weights and the store, and LLMLOOP_SERVER_URL points "
    "at a server: run it on the server's machine (or unset LLMLOOP_SERVER_URL and point "
    "LLMLOOP_DATABASE_URL / LLMLOOP_ARTIFACTS_URL at the server's store)"
)


class RemoteTrain:
    def __init__(self, http: Http) -> None:
        self.http = http

    def train(
        self, config: TrainConfig, *, teacher: Teacher | None, callbacks: Sequence[Any], progress: bool
    ) -> TrainResult:
        raise Unavailable(_REMOTE, details={"server": self.http.base})

    def plan(self, config: TrainConfig) -> Plan:
        raise Unavailable(_REMOTE, details={"server": self.http.base})

    def resume(self, run_id: str, *, progress: bool) -> TrainResult:
        raise Unavailable(_REMOTE, details={"server": self.http.base})

    def sweep(self, sweep: Sweep, *, executor: str | None, promote: bool | None) -> SweepResult:
        raise Unavailable(_REMOTE, details={"server": self.http.base})
