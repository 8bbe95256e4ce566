"""A pipeline definition (YAML or Python), checked whole before anything runs.

    name: travel
    steps:
      - name: data
        kind: ingest
        config: {name: travel-sft, path: rows.jsonl}
      - name: parts
        kind: split
        inputs: {data: steps.data.dataset}
      - name: score
        kind: mypkg.steps:score          # a user's function
        inputs: {data: steps.parts.dataset, threshold: 0.5}
        outputs: {score: value}

An input is a reference to an earlier step's output (``steps.NAME.OUTPUT``), a store reference
(``dataset:travel-sft@3``, ``model:travel@champion``, ``evaluation:ID``, ``prompt:NAME@V``) or a
plain value. ``check`` refuses an unknown step kind, a cycle, a missing input or a reference of
the wrong type, each naming its key path (``steps[2].inputs.data``), so a bad file changes
nothing in the store.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, model_validator

from llmloop.errors import InvalidInput
from llmloop.services.pipelines.kinds import KINDS, REF_TYPES, RefType, is_function
from llmloop.validation import KeyProblem, closest_key, format_validation_error

STEP_PREFIX = "steps."
STORE_PREFIXES: dict[str, RefType] = {f"{t}:": t for t in REF_TYPES if t != "value"}
_NAME = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$"
_CONFIG = ConfigDict(extra="forbid")


class Resources(BaseModel):
    """What one step asks its executor for (Ray reads all three; the local executor runs one process)."""

    model_config = _CONFIG

    cpus: float = Field(1.0, ge=0, description="CPU cores the step needs.")
    gpus: float = Field(0.0, ge=0, description="GPUs the step needs (fractions share one).")
    memory_mb: int | None = Field(None, gt=0, description="Memory the step needs, in MiB.")


class StepDef(BaseModel):
    model_config = _CONFIG

    name: str = Field(pattern=_NAME, description="Unique within the pipeline; outputs are steps.NAME.OUTPUT.")
    kind: str = Field(description="A built-in kind (ingest, split, train, …) or a user's module:function.")
    inputs: dict[str, Any] = Field(
        default_factory=dict, description="Input name -> steps.NAME.OUTPUT, a store reference, or a value."
    )
    config: dict[str, Any] = Field(
        default_factory=dict, description="The kind's settings (part of the cache key)."
    )
    outputs: dict[str, RefType] = Field(
        default_factory=dict, description="Function steps: output name -> type (default {value: value})."
    )
    after: list[str] = Field(
        default_factory=list, description="Steps that must finish first (no data passed)."
    )
    cache: bool = Field(True, description="Reuse the outputs of a finished step with the same cache key.")
    retries: int = Field(0, ge=0, le=20, description="Extra attempts after a failure.")
    retry_backoff_s: float = Field(1.0, ge=0, le=3600, description="Wait before retry n: this * 2^(n-1).")
    timeout_s: float | None = Field(None, gt=0, description="Kill the step after this long.")
    resources: Resources = Field(default_factory=Resources, description="CPUs, GPUs and memory for the step.")

    @model_validator(mode="after")
    def _data_parallel_waits_free(self) -> StepDef:
        """A data-parallel ``train`` step (``config.distributed``) only waits on its Ray Train workers,
        which ask for their own CPUs and GPUs: unless the step sets ``resources.cpus`` its task takes
        none, so 2 workers fit a 2-CPU Ray instead of waiting forever behind their own step."""
        if (
            self.kind == "train"
            and self.config.get("distributed")
            and "cpus" not in self.resources.model_fields_set
        ):
            self.resources = self.resources.model_copy(update={"cpus": 0.0})
        return self

    def declared_outputs(self) -> dict[str, RefType]:
        if is_function(self.kind):
            return dict(self.outputs) or {"value": "value"}
        return KINDS[self.kind].outputs(self.config)

    def upstream(self) -> list[tuple[str, str, str]]:
        """``(input name, step, output)`` for each input wired to an earlier step."""
        out = []
        for key, value in self.inputs.items():
            ref = step_ref(value)
            if ref is not None:
                out.append((key, *ref))
        return out


class PipelineDef(BaseModel):
    model_config = _CONFIG

    name: str = Field(pattern=_NAME, description="Pipeline name: runs, schedules and the cache group by it.")
    project: str | None = Field(None, description="Project of its runs (default: LLMLOOP_DEFAULT_PROJECT).")
    description: str = Field("", max_length=2000)
    parallelism: int = Field(2, ge=1, le=64, description="Independent steps that may run at once.")
    steps: list[StepDef] = Field(min_length=1, description="The steps; order is free, wiring decides.")
    base_dir: str | None = Field(None, description="Folder relative paths resolve against (the file's).")
    _by_name: dict[str, StepDef] = PrivateAttr(default_factory=dict)

    @model_validator(mode="after")
    def _wiring(self) -> PipelineDef:
        check(self)
        self._by_name = {s.name: s for s in self.steps}
        return self

    def step(self, name: str) -> StepDef:
        return self._by_name[name]

    def digest(self) -> str:
        body = self.model_dump(mode="json", exclude={"base_dir"})
        return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


def step_ref(value: Any) -> tuple[str, str] | None:
    """``("split", "train")`` for ``"steps.split.train"``, None for anything else."""
    if isinstance(value, str) and value.startswith(STEP_PREFIX):
        step, _, output = value[len(STEP_PREFIX) :].partition(".")
        return step, output
    return None


def value_type(value: Any) -> RefType:
    """The type of a literal input: a store reference by its prefix, else a plain value."""
    if isinstance(value, str):
        for prefix, kind in STORE_PREFIXES.items():
            if value.startswith(prefix):
                return kind
    return "value"


def check(defn: PipelineDef) -> None:
    """Every wiring rule, the first broken one raised as a KeyProblem at its key path."""
    index: dict[str, int] = {}
    for i, s in enumerate(defn.steps):
        if s.name in index:
            raise KeyProblem(f"steps[{i}].name", f"step name {s.name!r} is used twice")
        index[s.name] = i
    for i, s in enumerate(defn.steps):
        _check_kind(i, s)
    for i, s in enumerate(defn.steps):
        _check_inputs(defn, index, i, s)
    _check_acyclic(defn, index)


def _check_kind(i: int, s: StepDef) -> None:
    if is_function(s.kind):
        module, _, fn = s.kind.partition(":")
        if not module or not fn:
            raise KeyProblem(f"steps[{i}].kind", f"{s.kind!r}: a function step is module:function")
        return
    if s.kind not in KINDS:
        guess = closest_key(s.kind, list(KINDS))
        hint = (
            f"; did you mean {guess!r}?"
            if guess
            else f"; kinds: {', '.join(sorted(KINDS))}, or module:function"
        )
        raise KeyProblem(f"steps[{i}].kind", f"unknown step kind {s.kind!r}{hint}")
    if s.outputs:
        raise KeyProblem(
            f"steps[{i}].outputs", f"a {s.kind} step's outputs are fixed; only function steps declare them"
        )


def _check_inputs(defn: PipelineDef, index: Mapping[str, int], i: int, s: StepDef) -> None:
    ports = None if is_function(s.kind) else KINDS[s.kind].inputs
    if ports is not None:
        for key in s.inputs:
            if key not in ports:
                guess = closest_key(key, list(ports))
                hint = f"; did you mean {guess!r}?" if guess else f"; inputs: {', '.join(ports) or 'none'}"
                raise KeyProblem(f"steps[{i}].inputs.{key}", f"a {s.kind} step has no input {key!r}{hint}")
        for key, port in ports.items():
            if port.required and key not in s.inputs:
                raise KeyProblem(
                    f"steps[{i}].inputs.{key}", f"missing input {key!r} ({port.type}) of a {s.kind} step"
                )
    for key, value in s.inputs.items():
        where = f"steps[{i}].inputs.{key}"
        ref = step_ref(value)
        if ref is None:
            got = value_type(value)
        else:
            step, output = ref
            if step not in index:
                guess = closest_key(step, list(index))
                hint = f"; did you mean {guess!r}?" if guess else ""
                raise KeyProblem(where, f"{value!r}: no step named {step!r}{hint}")
            produced = defn.steps[index[step]].declared_outputs()
            if output not in produced:
                raise KeyProblem(
                    where,
                    f"{value!r}: step {step!r} has no output {output!r} (it gives: {', '.join(produced)})",
                )
            got = produced[output]
        want = ports[key].type if ports is not None else None
        if want is not None and got != want:
            raise KeyProblem(
                where, f"type mismatch: {s.kind} input {key!r} takes a {want}, got a {got} ({value!r})"
            )
    for j, name in enumerate(s.after):
        if name not in index:
            raise KeyProblem(f"steps[{i}].after[{j}]", f"no step named {name!r}")


def _check_acyclic(defn: PipelineDef, index: Mapping[str, int]) -> None:
    """Depth-first with an explicit stack, so a chain of thousands of steps is no recursion limit."""
    deps = {s.name: sorted(dependencies(s), key=index.__getitem__) for s in defn.steps}
    state: dict[str, int] = {}  # 1 on the trail, 2 done
    for s in defn.steps:
        if s.name in state:
            continue
        state[s.name] = 1
        trail, todo = [s.name], [iter(deps[s.name])]
        while todo:
            dep = next(todo[-1], None)
            if dep is None:
                state[trail.pop()] = 2
                todo.pop()
            elif state.get(dep) == 1:
                cycle = [*trail[trail.index(dep) :], dep]
                raise KeyProblem(
                    _edge_key(defn, index, cycle[-2], dep), f"cycle: {' -> '.join(reversed(cycle))}"
                )
            elif dep not in state:
                state[dep] = 1
                trail.append(dep)
                todo.append(iter(deps[dep]))


def _edge_key(defn: PipelineDef, index: Mapping[str, int], step: str, dep: str) -> str:
    i = index[step]
    s = defn.steps[i]
    for key, upstream, _ in s.upstream():
        if upstream == dep:
            return f"steps[{i}].inputs.{key}"
    return f"steps[{i}].after[{s.after.index(dep)}]"


def dependencies(s: StepDef) -> set[str]:
    return {step for _, step, _ in s.upstream()} | set(s.after)


def topological(defn: PipelineDef) -> list[str]:
    """Step names, each after everything it depends on: in waves (a step's wave is one past its
    deepest dependency's), file order within a wave. Linear in the steps and their edges."""
    order = {s.name: i for i, s in enumerate(defn.steps)}
    deps = {s.name: dependencies(s) for s in defn.steps}
    dependents: dict[str, list[str]] = {n: [] for n in deps}
    for name, ds in deps.items():
        for d in ds:
            dependents[d].append(name)
    left = {n: len(ds) for n, ds in deps.items()}
    wave = dict.fromkeys((n for n, k in left.items() if k == 0), 0)
    ready = list(wave)
    while ready:
        name = ready.pop()
        for after in dependents[name]:
            wave[after] = max(wave.get(after, 0), wave[name] + 1)
            left[after] -= 1
            if left[after] == 0:
                ready.append(after)
    return sorted(wave, key=lambda n: (wave[n], order[n]))


def parse_definition(raw: Any, *, where: str | None = None, base_dir: Path | None = None) -> PipelineDef:
    """A mapping (read from YAML, or built in Python) as a checked PipelineDef, or InvalidInput at a key path."""
    if isinstance(raw, PipelineDef):
        return raw
    if not isinstance(raw, Mapping):
        raise InvalidInput(
            f"{where or 'pipeline'}: expected a mapping with name and steps", details={"key": "(top level)"}
        )
    data = dict(raw)
    if base_dir is not None and data.get("base_dir") is None:
        data["base_dir"] = str(base_dir)
    try:
        return PipelineDef.model_validate(data)
    except ValidationError as e:
        raise format_validation_error(e, where=where, model=PipelineDef) from e


def load_definition(source: str | Path | Mapping[str, Any] | PipelineDef) -> PipelineDef:
    """A pipeline from a YAML file path, a mapping or a PipelineDef."""
    if isinstance(source, (PipelineDef, Mapping)):
        return parse_definition(source)
    import yaml

    path = Path(source)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise InvalidInput(
            f"{path}: cannot read the pipeline file ({e.strerror})", details={"file": str(path)}
        ) from e
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        raise InvalidInput(
            f"{path}: not valid YAML (line {line})", details={"file": str(path), "line": line}
        ) from e
    return parse_definition(raw, where=str(path), base_dir=path.resolve().parent)
