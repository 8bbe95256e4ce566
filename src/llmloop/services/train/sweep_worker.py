"""One local sweep worker process: ``python -m llmloop.services.train.sweep_worker SWEEP_ID TRIALS PARENT_RUN WORKER [THREADS]``.

Several of these share one study through the database (Optuna's documented way to run trials in
parallel processes); each runs its share of the trials as child runs of the sweep's parent run.
"""

from __future__ import annotations

import sys


def main(argv: list[str]) -> int:
    from llmloop.context import local_context
    from llmloop.errors import LlmloopError
    from llmloop.services.train.sweep import load_sweep_row, optuna_objective, study_for

    sweep_id, trials, parent_run_id, worker = argv[0], int(argv[1]), argv[2], int(argv[3])
    threads = int(argv[4]) if len(argv) > 4 else None
    ctx = local_context()
    try:
        sweep = load_sweep_row(ctx, sweep_id)
        study = study_for(ctx, sweep_id, sweep, worker=worker)
        objective = optuna_objective(ctx, sweep, parent_run_id=parent_run_id, threads=threads)
        study.optimize(objective, n_trials=trials, catch=(LlmloopError,))
    except LlmloopError as e:
        print(f"error: sweep worker {worker}: {e.message}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
