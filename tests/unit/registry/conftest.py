from tests.model_fixtures import smollm2_gguf  # noqa: F401  (the packaged GGUF, session-scoped)
