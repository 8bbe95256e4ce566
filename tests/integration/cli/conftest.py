from tests.model_fixtures import tiny_adapter, tiny_base  # noqa: F401  (session-scoped tiny models)
