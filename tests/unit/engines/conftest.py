"""The model fixtures (packaged SmolLM2, tiny Llama, tiny LoRA) for engine tests."""

from tests.model_fixtures import smollm2_digest, smollm2_gguf, smollm2_hf_dir, tiny_llama_dir, tiny_lora_dir

__all__ = ["smollm2_digest", "smollm2_gguf", "smollm2_hf_dir", "tiny_llama_dir", "tiny_lora_dir"]
