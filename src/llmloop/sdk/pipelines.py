"""``ll.pipelines``: run a pipeline from a YAML file, a mapping or a PipelineDef.

    import llmloop as ll
    run = ll.pipelines.run("docs/examples/pipeline.yaml")       # a second run is served from the cache
    run.status, run.step("score").cache, run.step("score").outputs
    ll.pipelines.resume(run.id)                                  # after a failure or a kill

It goes through ``get_client().pipelines`` and runs here, its steps on ``LLMLOOP_EXECUTOR``
(local subprocesses by default, or Ray).
"""

from __future__ import annotations

from llmloop.client import get_client
from llmloop.client.pipelines import Source
from llmloop.services.pipelines.definition import PipelineDef, load_definition
from llmloop.services.pipelines.runner import Report, RunOptions
from llmloop.services.pipelines.schemas import PipelineRun


class Pipelines:
    def load(self, source: Source) -> PipelineDef:
        """A checked definition (InvalidInput at the key path if it cannot run), without running it."""
        return load_definition(source)

    def run(
        self,
        source: Source,
        *,
        cache: bool = True,
        executor: str | None = None,
        parallelism: int | None = None,
        report: Report | None = None,
    ) -> PipelineRun:
        options = RunOptions(use_cache=cache, executor=executor, parallelism=parallelism, report=report)
        defn = load_definition(source)  # a bad file is refused before the store is even opened
        return get_client().pipelines.run(defn, options)

    def resume(
        self, run_id: str, *, executor: str | None = None, report: Report | None = None
    ) -> PipelineRun:
        return get_client().pipelines.resume(run_id, RunOptions(executor=executor, report=report))

    def status(self, run_id: str) -> PipelineRun:
        return get_client().pipelines.get_run(run_id)


pipelines = Pipelines()
