from tests.model_fixtures import (  # noqa: F401  (session-scoped tiny models and adapters)
    other_adapter,
    other_base,
    smollm2_gguf,
    tiny_adapter,
    tiny_base,
)
