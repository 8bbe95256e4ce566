"""Observability: OpenTelemetry-shaped traces and spans recorded in the store.

``tracer`` gives users' code ``ll.span(...)`` and ``@ll.trace``; ``writer`` moves finished
spans to the store in batches on a background thread; ``service`` writes and reads them.
The gateway adds OTLP ingest and the ``traces`` CLI/API on top of these three.
"""
