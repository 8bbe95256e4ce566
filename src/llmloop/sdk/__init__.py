"""The SDK: the names on ``import llmloop as ll``, each a thin layer over ``llmloop.client``."""
