"""Training: LoRA/full SFT, DPO, distillation and hyper-parameter sweeps, as tracked, resumable runs.

config.py      the YAML config (every key documented; errors name the key path)
data.py        dataset resolution and shaping (seam to the datasets service)
model_source.py  base model resolution and loading (seam to the models registry)
plan.py        parameters, steps, tokens/step, memory and time before training
service.py     train(): the tracked run around TRL's SFTTrainer / DPOTrainer
sft.py dpo.py distill.py teacher.py callbacks.py resume.py outputs.py
sweep*.py study_store.py  Optuna (local processes) and Ray Tune sweeps
"""
