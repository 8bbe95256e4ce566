"""Drive a pipeline: ready steps to the executor (at most ``parallelism`` at once), each through the cache.

For each step, once everything it depends on has finished:

1. pin its inputs (``digests.resolve``) and build its cache key from the code version, the
   config and the inputs' content digests;
2. a hit reuses the outputs of the finished step with that key (after checking they still
   exist) and records a tracked run marked ``cache=hit``; a miss says why (``cache.explain_miss``);
3. otherwise run it on the executor, up to ``1 + retries`` attempts with exponential backoff,
   each attempt its own tracked run; the outputs, key and lineage land in one transaction.

A failed step stops new steps from starting; those already running finish, the rest are
``skipped``, and ``resume`` later starts from the first unfinished one.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from llmloop.context import Context
from llmloop.errors import InvalidInput, LlmloopError, NotFound
from llmloop.executors import Executor, StepTask, get_executor
from llmloop.services.pipelines import service
from llmloop.services.pipelines.cache import cache_key, code_version, explain_miss, key_parts
from llmloop.services.pipelines.definition import (
    PipelineDef,
    StepDef,
    dependencies,
    step_ref,
    topological,
    value_type,
)
from llmloop.services.pipelines.digests import Resolved, resolve, value_digest
from llmloop.services.pipelines.kinds import KINDS, is_function
from llmloop.services.pipelines.schemas import PipelineRun
from llmloop.store.tables.base import now

Report = Callable[[str, str], None]  # (step, message)


@dataclass(frozen=True)
class RunOptions:
    use_cache: bool = True
    executor: str | None = None  # default: the LLMLOOP_EXECUTOR setting
    parallelism: int | None = None  # default: the definition's
    report: Report | None = None  # each cache decision and step end, as it happens


def run_pipeline(ctx: Context, *, defn: PipelineDef, options: RunOptions | None = None) -> PipelineRun:
    """Check, start and drive a new run of ``defn``; refused before anything is written if it cannot run."""
    options = options or RunOptions()
    project = defn.project or ctx.settings.default_project
    codes = _preflight(ctx, defn, project)
    name = options.executor or ctx.settings.executor
    executor = get_executor(name)
    pipeline = service.start_pipeline_run(ctx, defn=defn, project=project, executor=name)
    return _Driver(ctx, pipeline, defn, codes, executor, options).drive({})


def resume_pipeline(ctx: Context, *, run_id: str, options: RunOptions | None = None) -> PipelineRun:
    """Continue a failed or killed run from its first unfinished step; finished steps keep their outputs."""
    options = options or RunOptions()
    pipeline, defn = service.claim_for_resume(ctx, run_id=run_id)
    codes = _preflight(ctx, defn, pipeline.project)
    executor = get_executor(options.executor or pipeline.executor)
    done = {s.name: s.outputs for s in pipeline.steps if s.state in service.REUSABLE}
    return _Driver(ctx, pipeline, defn, codes, executor, options).drive(done)


def _preflight(ctx: Context, defn: PipelineDef, project: str) -> dict[str, str]:
    """Every function step imports and every literal store reference exists, or InvalidInput at its key."""
    codes = {}
    for i, s in enumerate(defn.steps):
        codes[s.name] = code_version(s.kind, where=f"steps[{i}].kind", search=defn.base_dir)
        if s.after:  # an earlier step may create what a literal names
            continue
        for key, value in s.inputs.items():
            if step_ref(value) is None and value_type(value) != "value":
                try:
                    resolve(ctx, value, project=project)
                except NotFound as e:
                    where = f"steps[{i}].inputs.{key}"
                    raise InvalidInput(f"{where}: {e.message}", details={"key": where}) from e
    return codes


def _bare(r: Resolved) -> Any:
    """What a step function receives: a store reference without its type prefix (``travel@3``)."""
    return r.ref.partition(":")[2] if r.type != "value" else r.ref


class _Driver:
    def __init__(
        self,
        ctx: Context,
        pipeline: PipelineRun,
        defn: PipelineDef,
        codes: Mapping[str, str],
        executor: Executor,
        options: RunOptions,
    ) -> None:
        self.ctx, self.pipeline, self.defn, self.codes = ctx, pipeline, defn, codes
        self.executor, self.options = executor, options
        self.project = pipeline.project
        self.outputs: dict[str, dict[str, Resolved]] = {}
        self.logs = Path(ctx.settings.home).resolve() / "pipelines" / pipeline.id

    def say(self, step: str, message: str) -> None:
        if self.options.report is not None:
            self.options.report(step, message)

    def drive(self, done: Mapping[str, dict[str, Any]]) -> PipelineRun:
        for name, outs in done.items():
            self.outputs[name] = self._pin_all(self.defn.step(name), outs)
            self.say(name, "done in an earlier attempt of this run: outputs kept")
        pending = [n for n in topological(self.defn) if n not in done]
        try:
            failed = self._schedule(pending, set(done))
        finally:
            self.executor.close()  # the local executor's warm workers end with the run
        ok = not failed and not pending
        return service.end_pipeline_run(
            self.ctx, run_id=self.pipeline.id, status="finished" if ok else "failed"
        )

    def _schedule(self, pending: list[str], finished: set[str]) -> bool:
        """Start each step once its dependencies finished, at most ``parallelism`` at once; after a
        failure start nothing new and mark what never started ``skipped`` (left in ``pending``).
        True when a step failed."""
        failed = False
        width = self.options.parallelism or self.defn.parallelism
        running: dict[Future[bool], str] = {}
        deps = {s.name: dependencies(s) for s in self.defn.steps}
        with ThreadPoolExecutor(max_workers=width, thread_name_prefix="llmloop-step") as pool:
            try:
                while pending or running:
                    if not failed:
                        for name in [n for n in pending if deps[n] <= finished]:
                            if len(running) >= width:
                                break
                            pending.remove(name)
                            running[pool.submit(self._step, self.defn.step(name))] = name
                    if not running:
                        break
                    ended, _ = wait(running, return_when=FIRST_COMPLETED)
                    for f in ended:
                        name = running.pop(f)
                        if f.result():
                            finished.add(name)
                        else:
                            failed = True
            finally:
                for name in pending:
                    service.update_step(
                        self.ctx, pipeline_run_id=self.pipeline.id, step=name, state="skipped"
                    )
        return failed

    # ------------------------------------------------------------------ one step

    def _step(self, step: StepDef) -> bool:
        try:
            return self._run_step(step)
        except LlmloopError as e:  # an input that no longer resolves, a store refusing a write
            self._fail(step, f"{type(e).__name__}: {e.message}", attempts=None)
            return False

    def _inputs(self, step: StepDef) -> dict[str, Resolved]:
        out = {}
        for key, value in step.inputs.items():
            ref = step_ref(value)
            out[key] = (
                self.outputs[ref[0]][ref[1]]
                if ref is not None
                else resolve(self.ctx, value, project=self.project)
            )
        return out

    def _source_digest(self, step: StepDef) -> dict[str, str]:
        """An ingest step reads a file: its bytes are an input like any other."""
        if step.kind != "ingest" or "path" not in step.config:
            return {}
        path = self._path(str(step.config["path"]))
        if not path.is_file():
            return {}
        from llmloop.services.data.formats import file_digest

        return {"source": file_digest(path)}

    def _path(self, text: str) -> Path:
        p = Path(text).expanduser()
        return p if p.is_absolute() or self.defn.base_dir is None else Path(self.defn.base_dir) / p

    def _run_step(self, step: StepDef) -> bool:
        t0 = now()
        inputs = self._inputs(step)
        digests = {k: r.digest for k, r in inputs.items()} | self._source_digest(step)
        parts = key_parts(self.codes[step.name], step.config, digests)
        key = cache_key(parts)
        entities = [r.entity for r in inputs.values() if r.entity is not None]
        if not step.cache or not self.options.use_cache:
            decision, reason = (
                "off",
                ("off: cache: false on this step" if not step.cache else "off: --no-cache"),
            )
        else:
            hit = self._hit(step, key, parts, entities, t0)
            if hit:
                return True
            decision = "miss"
            before = service.previous_parts(
                self.ctx, project=self.project, pipeline=self.pipeline.name, step=step.name
            )
            reason = explain_miss(parts, before)
        self.say(step.name, reason)
        attempts = step.retries + 1
        error = ""
        for attempt in range(1, attempts + 1):
            run_id = service.start_step_run(
                self.ctx,
                pipeline=self.pipeline,
                step=step.name,
                kind=step.kind,
                params={"attempt": attempt, "cache_key": key},
                values={
                    "state": "running", "cache": decision, "reason": reason, "cache_key": key, "key_parts": parts,
                    "attempts": attempt, "started_at": t0, "error": "",
                },
            )  # fmt: skip
            outcome = self.executor.run(self._task(step, run_id, inputs))
            if outcome.ok:
                try:
                    outs = self._check_outputs(step, outcome.outputs)
                except LlmloopError as e:
                    error = e.message
                else:
                    self._complete(
                        step, run_id, "finished", decision, reason, key, parts, outs, entities, t0, attempt
                    )
                    self.say(step.name, f"finished in {now() - t0:.1f} s (attempt {attempt})")
                    return True
            else:
                error = outcome.error
            retry = attempt < attempts
            service.end_step_run(
                self.ctx,
                run_id=run_id,
                status="killed" if outcome.killed else "failed",
                pipeline_run_id=self.pipeline.id,
                step=step.name,
                values={"error": error} if retry else None,
            )
            if retry:
                wait_s = step.retry_backoff_s * 2 ** (attempt - 1)
                self.say(
                    step.name,
                    f"attempt {attempt} failed ({error.splitlines()[0] if error else '?'}); retry in {wait_s:g} s",
                )
                time.sleep(wait_s)
        self._fail(step, error, attempts=attempts)
        return False

    def _hit(
        self, step: StepDef, key: str, parts: dict[str, Any], entities: list[tuple[str, str]], t0: float
    ) -> bool:
        found = service.find_cached(self.ctx, project=self.project, cache_key=key)
        if found is None:
            return False
        try:
            outs = self._pin_all(step, found.outputs)
        except NotFound:
            return False  # an output was deleted since: run the step again
        reason = f"hit: same code, config and input content as run {found.run_id}"
        run_id = service.start_step_run(
            self.ctx,
            pipeline=self.pipeline,
            step=step.name,
            kind=step.kind,
            params={"cache": "hit", "cache_key": key},
        )
        self._complete(step, run_id, "cached", "hit", reason, key, parts, outs, entities, t0, 0)
        self.say(step.name, reason)
        return True

    def _pin_all(self, step: StepDef, outputs: Mapping[str, Any]) -> dict[str, Resolved]:
        declared = step.declared_outputs()
        return {k: self._pin_output(v, declared.get(k)) for k, v in outputs.items()}

    def _pin_output(self, value: Any, declared: str | None) -> Resolved:
        if declared == "value":
            return Resolved("value", value, value_digest(value))
        return resolve(self.ctx, value, project=self.project)

    def _check_outputs(self, step: StepDef, got: Mapping[str, Any]) -> dict[str, Resolved]:
        declared = step.declared_outputs()
        missing = [k for k in declared if k not in got]
        if missing:
            raise InvalidInput(f"step {step.name!r} did not return output(s) {', '.join(missing)}")
        out = {}
        for k, t in declared.items():
            value = got[k]
            if t != "value" and value_type(value) == "value":
                value = f"{t}:{value}"  # a bare NAME@V for a typed output
            if value_type(value) != t:
                raise InvalidInput(
                    f"step {step.name!r} output {k!r} should be a {t}, got {str(value)[:80]!r}"
                )
            out[k] = self._pin_output(value, t)
        return out

    def _complete(
        self, step: StepDef, run_id: str, state: str, decision: str, reason: str, key: str,
        parts: dict[str, Any], outs: dict[str, Resolved], entities: list[tuple[str, str]], t0: float, attempt: int,
    ) -> None:  # fmt: skip
        self.outputs[step.name] = outs
        values = {
            "state": state, "cache": decision, "reason": reason, "cache_key": key, "key_parts": parts,
            "run_id": run_id, "outputs": {k: r.ref for k, r in outs.items()}, "error": "",
            "started_at": t0, "ended_at": now(),
        }  # fmt: skip
        if attempt:
            values["attempts"] = attempt
        service.complete_step(
            self.ctx,
            pipeline_run_id=self.pipeline.id,
            step=step.name,
            values=values,
            run_id=run_id,
            inputs=entities,
            outputs=[r.entity for r in outs.values() if r.entity is not None],
        )

    def _fail(self, step: StepDef, error: str, *, attempts: int | None) -> None:
        values: dict[str, Any] = {"state": "failed", "error": error[:4000], "ended_at": now()}
        service.update_step(self.ctx, pipeline_run_id=self.pipeline.id, step=step.name, **values)
        self.say(step.name, f"failed: {error.splitlines()[0] if error else 'unknown error'}")

    def _task(self, step: StepDef, run_id: str, inputs: Mapping[str, Resolved]) -> StepTask:
        self.logs.mkdir(parents=True, exist_ok=True)
        env = {
            "LLMLOOP_HOME": str(Path(self.ctx.settings.home).resolve()),
            "LLMLOOP_DATABASE_URL": self.ctx.db.url,
            "LLMLOOP_ARTIFACTS_URL": self.ctx.artifacts.url,
            "LLMLOOP_DEFAULT_PROJECT": self.project,
        }
        function = is_function(step.kind)
        return StepTask(
            target=step.kind if function else KINDS[step.kind].target,
            style="kwargs" if function else "step",
            step=step.name,
            run_id=run_id,
            project=self.project,
            inputs={k: _bare(r) for k, r in inputs.items()},
            config=dict(step.config),
            base_dir=self.defn.base_dir,
            env=env,
            cpus=step.resources.cpus,
            gpus=step.resources.gpus,
            memory_mb=step.resources.memory_mb,
            timeout_s=step.timeout_s,
            log_path=str(self.logs / f"{step.name}.log"),
        )
