"""Inference engines: one interface (``InferenceEngine``) for every way llmloop generates text."""
