"""The model registry: models, immutable versions (base + optional LoRA adapter), aliases behind
gates, lineage and model cards. ``service`` is the one entry point every interface calls;
``loading.model_spec`` hands a version to the engines.
"""
