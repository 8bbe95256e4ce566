from tests.model_fixtures import (  # noqa: F401  (session-scoped tiny models)
    smollm2_digest,
    smollm2_gguf,
    smollm2_hf_dir,
    tiny_adapter,
    tiny_base,
    tiny_llama_dir,
    tiny_lora_dir,
)
