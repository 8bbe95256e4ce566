from tests.registry_fixtures import smollm2_gguf  # noqa: F401  (the packaged GGUF, session-scoped)
