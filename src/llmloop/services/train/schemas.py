"""What training returns to the CLI, the SDK and sweeps: the plan before, the result after."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

_CONFIG = ConfigDict(extra="forbid", ser_json_inf_nan="strings")


class MemoryEstimate(BaseModel):
    model_config = _CONFIG

    weights_bytes: int = Field(description="Model weights as loaded (fp32, or 4-bit for QLoRA).")
    training_state_bytes: int = Field(description="Gradients + AdamW moments of the trainable parameters.")
    activations_bytes: int = Field(description="Saved activations of one forward pass (per micro-batch).")
    logits_bytes: int = Field(description="Logits, their softmax and gradient for one micro-batch.")
    runtime_bytes: int = Field(description="Python, torch and libraries.")
    total_bytes: int


class Plan(BaseModel):
    """``llmloop train --plan``: the derived numbers, printed before any weight is loaded."""

    model_config = _CONFIG

    name: str
    method: str
    base: str
    device: str
    bf16: bool
    params_total: int
    params_trainable: int
    rows_train: int
    rows_eval: int
    effective_batch: int
    steps_per_epoch: int
    total_steps: int
    tokens_per_row: float = Field(
        description="Mean tokens per training row (sampled, capped at max_seq_length)."
    )
    tokens_per_step: int
    rows_truncated: int = Field(description="Sampled rows longer than max_seq_length (they are cut).")
    memory: MemoryEstimate
    memory_available_bytes: int
    fits: bool
    step_seconds: float = Field(description="Estimated seconds per optimizer step (rough).")
    total_seconds: float
    notes: list[str] = Field(default_factory=list)


class TrainResult(BaseModel):
    model_config = _CONFIG

    run_id: str
    name: str
    project: str
    method: str
    status: str = Field(description="finished, stopped_early (early stopping or pruning) or failed.")
    steps: int
    total_steps: int
    train_loss: float | None = None
    eval_loss: float | None = None
    metrics: dict[str, float] = Field(default_factory=dict, description="Last value of each logged metric.")
    output_dir: str | None = Field(None, description="Local folder of the adapter (or full model).")
    artifacts: list[str] = Field(default_factory=list, description="Run artifact paths of the result.")
    model_version: str | None = Field(None, description="name@version when registered.")
    checkpoint_dir: str
    resumed_from: str | None = None
    dataset_version: str | None = Field(
        None, description="Distillation: the dataset the teacher's answers became."
    )
