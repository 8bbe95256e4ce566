"""``Client``, its two implementations, and ``get_client``, which picks one from the settings."""

from __future__ import annotations

from typing import TYPE_CHECKING

from llmloop.client.audit import Audit, LocalAudit, RemoteAudit
from llmloop.client.datasets import Datasets, LocalDatasets, RemoteDatasets
from llmloop.client.deployments import Deployments, LocalDeployments, RemoteDeployments
from llmloop.client.evaluations import Evaluations, LocalEvaluations, RemoteEvaluations
from llmloop.client.feedback import Feedback, LocalFeedback, RemoteFeedback
from llmloop.client.keys import Keys, LocalKeys, RemoteKeys
from llmloop.client.models import LocalModels, Models, RemoteModels
from llmloop.client.monitoring import LocalMonitoring, Monitoring, RemoteMonitoring
from llmloop.client.pipelines import (
    LocalPipelines,
    LocalSchedules,
    Pipelines,
    RemotePipelines,
    RemoteSchedules,
    Schedules,
)
from llmloop.client.privacy import LocalPrivacy, Privacy, RemotePrivacy
from llmloop.client.prompts import LocalPrompts, Prompts, RemotePrompts
from llmloop.client.runs import LocalRuns, RemoteRuns, Runs
from llmloop.client.secrets import LocalSecrets, RemoteSecrets, Secrets
from llmloop.client.store import LocalStore, RemoteStore, Store
from llmloop.client.traces import LocalTraces, RemoteTraces, Traces
from llmloop.client.train import LocalTrain, RemoteTrain, Train
from llmloop.client.users import LocalUsers, RemoteUsers, Users
from llmloop.config import Settings, get_settings

if TYPE_CHECKING:
    import httpx

    from llmloop.context import Context


class Client:
    """One sub-API per noun. Code above the client holds a ``Client`` and never asks which kind."""

    runs: Runs
    train: Train
    datasets: Datasets
    prompts: Prompts
    models: Models
    evaluations: Evaluations
    deployments: Deployments
    traces: Traces
    feedback: Feedback
    users: Users
    keys: Keys
    audit: Audit
    secrets: Secrets
    store: Store
    privacy: Privacy
    pipelines: Pipelines
    schedules: Schedules
    monitoring: Monitoring
    remote: bool = False


class LocalClient(Client):
    """The services of the configured store, called in this process as the local actor."""

    def __init__(self, settings: Settings | None = None, ctx: Context | None = None) -> None:
        from llmloop.context import local_context

        self.ctx = ctx or local_context(settings)
        self.runs = LocalRuns(self.ctx)
        self.train = LocalTrain(self.ctx)
        self.datasets = LocalDatasets(self.ctx)
        self.prompts = LocalPrompts(self.ctx)
        self.models = LocalModels(self.ctx)
        self.evaluations = LocalEvaluations(self.ctx)
        self.deployments = LocalDeployments(self.ctx)
        self.traces = LocalTraces(self.ctx)
        self.feedback = LocalFeedback(self.ctx)
        self.users = LocalUsers(self.ctx)
        self.keys = LocalKeys(self.ctx)
        self.audit = LocalAudit(self.ctx)
        self.secrets = LocalSecrets(self.ctx)
        self.store = LocalStore(self.ctx)
        self.privacy = LocalPrivacy(self.ctx)
        self.pipelines = LocalPipelines(self.ctx)
        self.schedules = LocalSchedules(self.ctx)
        self.monitoring = LocalMonitoring(self.ctx)


class RemoteClient(Client):
    """A server's ``/api/v1``, with the credentials of ``settings``."""

    remote = True

    def __init__(self, settings: Settings, *, transport: httpx.BaseTransport | None = None) -> None:
        from llmloop.client.http import Http
        from llmloop.client.table import route

        self.http = Http(settings, lookup=route, transport=transport)
        self.runs = RemoteRuns(self.http)
        self.train = RemoteTrain(self.http)
        self.datasets = RemoteDatasets(self.http)
        self.prompts = RemotePrompts(self.http)
        self.models = RemoteModels(self.http)
        self.evaluations = RemoteEvaluations(self.http)
        self.deployments = RemoteDeployments(self.http)
        self.traces = RemoteTraces(self.http)
        self.feedback = RemoteFeedback(self.http)
        self.users = RemoteUsers(self.http)
        self.keys = RemoteKeys(self.http)
        self.audit = RemoteAudit(self.http)
        self.secrets = RemoteSecrets(self.http)
        self.store = RemoteStore(self.http)
        self.privacy = RemotePrivacy(self.http)
        self.pipelines = RemotePipelines(self.http)
        self.schedules = RemoteSchedules(self.http)
        self.monitoring = RemoteMonitoring(self.http)


_last: tuple[Settings, Client] | None = None


def get_client(settings: Settings | None = None) -> Client:
    """The client for ``settings`` (default: the current ones), reused while they stay the same.

    Reuse matters: a remote client holds a pooled HTTP connection, and building one per
    ``start_run`` or search cost more than the request itself.
    """
    global _last
    settings = settings or get_settings()
    last = _last
    if last is not None and last[0] is settings:
        return last[1]
    client: Client = RemoteClient(settings) if settings.server_url else LocalClient(settings)
    _last = (settings, client)
    return client
