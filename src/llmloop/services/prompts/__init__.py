"""The prompt registry: versioned chat/text templates, few-shot selection, chains and the playground.

``schemas`` is the contract; ``templating`` is the sandbox; ``render`` compiles versions;
``fewshot`` (with ``embeddings`` and ``vectors``) picks examples; ``service`` stores and
reads versions; ``playground`` runs a prompt on a model; ``chains`` composes steps.
"""
