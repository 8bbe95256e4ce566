"""A second llmloop process over the test's store (``LLMLOOP_DATABASE_URL``), driven line by line.

It stands for the server or a second worker: it keeps the drift reference statistics in its own
memory between commands, as a long-lived process does between monitor passes. Each stdin line is a
JSON command, each answer one JSON line:

- ``{"op": "run", "project": P, "now": T}``: one monitor pass; answers the drift results' status
  and every text this process's reference cache holds afterwards.
- ``{"op": "reference", "texts": [...]}``: the reference statistics of those texts (real
  all-MiniLM-L6-v2); answers the object's id, so two answers with one id were served from memory.
"""

from __future__ import annotations

import json
import sys


def main() -> None:
    from llmloop.context import local_context
    from llmloop.services.monitor import drift, service
    from llmloop.services.prompts.embeddings import default_embedder

    ctx = local_context()
    served: list[object] = []  # kept alive, so that no later object is given a served one's id
    for line in sys.stdin:
        cmd = json.loads(line)
        if cmd["op"] == "run":
            run = service.run_monitors(ctx, project=cmd["project"], now=cmd["now"])
            answer = {
                "status": [r.status for r in run.results],
                "held": sorted({t for _, ref in drift._references.values() for t in ref.texts}),
            }
        else:
            ref = drift.reference_stats(
                ctx, cmd["texts"], embedder=default_embedder(), max_samples=1000, seed=0
            )
            served.append(ref)
            answer = {"id": id(ref)}
        print(json.dumps(answer), flush=True)


if __name__ == "__main__":
    main()
