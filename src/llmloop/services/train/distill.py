"""Distillation, step one: a teacher answers the prompt set in batches and the answers become a dataset.

The new dataset (a dataset version through the datasets service) gets lineage from the teacher,
from the prompts and from the run that made it; step two is plain SFT of the student on it (the
same code path as ``method: sft``), inside the same run, which records it as its training data
(``train_data``), so the student version's card and lineage name it.
"""

from __future__ import annotations

import time
from pathlib import Path

from llmloop.context import Context
from llmloop.errors import InvalidInput, Unavailable
from llmloop.services.train.config import DistillSection
from llmloop.services.train.data import LoadedDataset, prompt_messages, save_rows
from llmloop.services.train.recorder import RunRecorder, output_edge
from llmloop.services.train.teacher import Messages, ResolvedTeacher
from llmloop.store.lineage import Edge


def teacher_dataset(
    ctx: Context,
    *,
    spec: DistillSection,
    name: str,
    project: str,
    teacher: ResolvedTeacher,
    prompts: LoadedDataset,
    system_prompt: str | None,
    recorder: RunRecorder,
    folder: Path,
) -> LoadedDataset:
    """Ask the teacher every prompt, store the answers as a chat dataset version, and return its rows.

    The result is read under the key ``distill.teacher`` (its rows are the teacher's answers): the
    caller records it as the run's training data, so the student's lineage names it.
    """
    asked = prompt_messages(prompts, system_prompt=system_prompt)
    rows: list[dict[str, object]] = []
    empty = 0
    started = time.perf_counter()
    for start in range(0, len(asked), spec.batch_size):
        batch: list[Messages] = asked[start : start + spec.batch_size]
        try:
            answers = teacher.answer(batch)
        except Exception as e:  # a teacher is user code or a remote engine: name the batch that failed
            raise Unavailable(
                f"the teacher failed on prompts {start + 1}-{start + len(batch)}: {type(e).__name__}: {e}",
                details={"key": "distill.teacher"},
            ) from e
        if len(answers) != len(batch):
            raise InvalidInput(
                f"the teacher returned {len(answers)} answers for {len(batch)} prompts",
                details={"key": "distill.teacher"},
            )
        for messages, answer in zip(batch, answers, strict=True):
            if not isinstance(answer, str) or not answer.strip():
                empty += 1
                continue
            rows.append({"messages": [*messages, {"role": "assistant", "content": answer}]})
        recorder.log_metrics({"teacher_answers": float(len(rows))}, step=0)
    seconds = time.perf_counter() - started
    recorder.log_metrics({"teacher_seconds": seconds, "teacher_empty_answers": float(empty)}, step=0)
    if not rows:
        raise InvalidInput(
            "the teacher gave no non-empty answer; nothing to train on", details={"key": "distill.teacher"}
        )
    dataset_name = spec.dataset_name or f"{name}-distilled"
    saved = save_rows(ctx, name=dataset_name, project=project, rows=rows, folder=folder)
    recorder.add_lineage(
        [
            Edge(teacher.entity_type, teacher.entity_id, "teacher_of", saved.entity_type, saved.entity_id),
            Edge(prompts.entity_type, prompts.entity_id, "prompts_of", saved.entity_type, saved.entity_id),
            output_edge(recorder.id, "produced", saved.entity_type, saved.entity_id),
        ]
    )
    recorder.set_tags({"distill.dataset": saved.label, "distill.rows": str(len(rows))})
    return LoadedDataset(  # no path: a registered version is named by its id, not kept as a run file
        key="distill.teacher",
        source=saved.label,
        kind="chat",
        rows=rows,
        entity_type=saved.entity_type,
        entity_id=saved.entity_id,
    )
