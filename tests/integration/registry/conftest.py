from tests.registry_fixtures import *  # noqa: F403  (session-scoped tiny models and adapters)
