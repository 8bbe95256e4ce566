"""One module per page family, each with its own ``router``; ``llmloop.server.ui.install_ui`` mounts them."""
