"""The service layer: one package per area of the loop, each with ``schemas.py`` and ``service.py``.

Interfaces (CLI, SDK, REST, gateway, UI) reach these only through ``llmloop.client``; services
import each other with plain imports, and never import an interface or the client.
"""
