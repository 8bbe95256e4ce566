"""Serving: deployments (named, revisioned routing to models or upstreams), the call pipeline the
OpenAI-compatible gateway runs, and human feedback on the traces it records."""
