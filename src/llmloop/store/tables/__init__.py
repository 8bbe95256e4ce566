"""SQLAlchemy rows, one module per area. Importing this package registers every table on ``Base.metadata``.

Rows never leave the service layer: services convert them to the Pydantic schemas users read.
"""

from llmloop.store.tables import (
    core,
    datasets,
    deployments,
    evaluations,
    models,
    monitoring,
    pipelines,
    prompts,
    security,
    traces,
    tracking,
    training,
)
from llmloop.store.tables.base import Base

__all__ = [
    "Base",
    "core",
    "datasets",
    "deployments",
    "evaluations",
    "models",
    "monitoring",
    "pipelines",
    "prompts",
    "security",
    "traces",
    "tracking",
    "training",
]
