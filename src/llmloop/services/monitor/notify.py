"""Alert notifications: a webhook per rule, delivered by one background thread, never on a request's path.

``enqueue`` writes a ``pending`` notification row in the caller's transaction and returns; the
thread POSTs it (generic JSON: the alert itself; ``slack``: an incoming-webhook ``text`` +
``blocks`` payload), retrying a failed delivery ``attempts`` times with exponential backoff
(``backoff_s``, doubled each try), then marks it ``sent`` or ``failed`` with the last error. A
receiver that is down therefore costs the thread's time, never the server's: the monitor pass and
every request go on. A process that exits cleanly waits (up to 30 s) for its queued deliveries
first, so a one-off ``llmloop monitor run`` still notifies. Each alert is also logged (``llmloop.alerts``), which is the notification of a
rule with no webhook.

The row keeps only the webhook's scheme and host: the path of a Slack webhook is its token.
"""

from __future__ import annotations

import atexit
import logging
import queue
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from llmloop.store.tables.base import now
from llmloop.store.tables.monitoring import AlertNotificationRow

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from llmloop.context import Context
    from llmloop.services.monitor.schemas import Alert, Webhook

log = logging.getLogger("llmloop.alerts")


def public_target(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}"


def payload(alert: Alert, event: str, fmt: str) -> dict[str, Any]:
    if fmt == "slack":
        icon = {"critical": ":red_circle:", "warning": ":warning:", "info": ":information_source:"}
        state = "RESOLVED" if event == "resolved" else alert.severity.upper()
        text = f"{icon.get(alert.severity, '')} [{state}] {alert.rule} ({alert.project}): {alert.message}"
        traces = ", ".join(alert.trace_ids[:5]) or "none"
        return {
            "text": text,
            "blocks": [
                {"type": "section", "text": {"type": "mrkdwn", "text": text}},
                {"type": "context", "elements": [{"type": "mrkdwn", "text": f"traces: {traces}"}]},
            ],
        }
    return {"event": event, "alert": alert.model_dump(mode="json", exclude={"notifications"})}


@dataclass(frozen=True)
class Delivery:
    ctx: Context
    row_id: int
    url: str
    body: dict[str, Any]
    attempts: int
    backoff_s: float
    timeout_s: float


class Notifier:
    """One daemon thread draining a queue of deliveries; ``drain`` waits for it (tests, shutdown)."""

    def __init__(self) -> None:
        self._queue: queue.Queue[Delivery] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._busy = 0
        self._idle = threading.Condition(self._lock)

    def submit(self, job: Delivery) -> None:
        with self._lock:
            self._busy += 1
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="llmloop-alerts", daemon=True)
                self._thread.start()
        self._queue.put(job)

    def drain(self, timeout_s: float = 60.0) -> bool:
        """Wait until every submitted delivery is settled; False on timeout."""
        deadline = time.monotonic() + timeout_s
        with self._idle:
            while self._busy:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._idle.wait(left)
        return True

    def _run(self) -> None:
        while True:
            job = self._queue.get()
            try:
                _deliver(job)
            except Exception:  # the thread must outlive any one delivery's bug
                log.exception("alert notification %s could not be settled", job.row_id)
            finally:
                with self._idle:
                    self._busy -= 1
                    self._idle.notify_all()


def _deliver(job: Delivery) -> None:
    import httpx

    error = ""
    tried = 0
    for tried in range(1, job.attempts + 1):
        try:
            resp = httpx.post(job.url, json=job.body, timeout=job.timeout_s, follow_redirects=False)
            if resp.status_code < 300:
                _settle(job, "sent", tried, "")
                return
            error = f"HTTP {resp.status_code}"
        except httpx.HTTPError as e:
            error = f"{type(e).__name__}: {e}"
        _settle(job, "pending", tried, error)
        if tried < job.attempts:
            time.sleep(job.backoff_s * 2 ** (tried - 1))
    log.warning(
        "alert notification %s to %s failed after %d attempts: %s",
        job.row_id,
        public_target(job.url),
        tried,
        error,
    )
    _settle(job, "failed", tried, error)


def _settle(job: Delivery, status: str, attempts: int, error: str) -> None:
    with job.ctx.db.session() as s:
        row = s.get(AlertNotificationRow, job.row_id)
        if row is not None:
            row.status, row.attempts, row.last_error, row.updated_at = status, attempts, error[:2000], now()


_notifier = Notifier()
# a clean exit (``llmloop monitor run`` returning) first settles what it queued, for at most this long
atexit.register(_notifier.drain, 30.0)


def notifier() -> Notifier:
    return _notifier


def enqueue(s: Session, ctx: Context, alert: Alert, event: str, webhooks: list[Webhook]) -> list[Delivery]:
    """Log the alert, write a pending row per webhook; the caller ``submit``s the jobs after its commit."""
    level = logging.INFO if event == "resolved" else logging.WARNING
    log.log(
        level,
        "alert %s %s [%s] %s: %s (traces: %s)",
        alert.rule,
        event,
        alert.severity,
        alert.project,
        alert.message,
        ", ".join(alert.trace_ids[:5]) or "none",
    )
    jobs = []
    for hook in webhooks:
        row = AlertNotificationRow(
            alert_id=alert.id,
            event=event,
            target=public_target(hook.url),
            format=hook.format,
            status="pending",
            attempts=0,
            last_error="",
            updated_at=now(),
        )
        s.add(row)
        s.flush()
        jobs.append(
            Delivery(
                ctx,
                row.id,
                hook.url,
                payload(alert, event, hook.format),
                hook.attempts,
                hook.backoff_s,
                hook.timeout_s,
            )
        )
    return jobs
