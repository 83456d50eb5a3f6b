"""What a notification says: one small JSON object per event. Stdlib only.

>>> e = Event("drift", model="churn", run_id=7, reason="3 of 10 features drifted",
...           at="2025-03-01T00:00:00Z", recorded_at="2025-03-01T00:00:05Z", host="h",
...           driftd_version="1.0")
>>> sorted(e.to_dict())[:4]
['action', 'at', 'decision_id', 'driftd_version']
>>> slack_text(e)
'driftd: drift on churn (run 7): 3 of 10 features drifted [at 2025-03-01T00:00:00Z on h]'
"""

from __future__ import annotations

import json
import socket
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from driftd import __version__
from driftd.config import NOTIFY_EVENTS
from driftd.domain import Action, Decision, Verdict
from driftd.registry.codec import utc_iso

DRIFT = "drift"
RETRAIN = "retrain"
PROMOTE = "promote"
REJECT = "reject"
AWAITING_APPROVAL = "awaiting_approval"
ROLLBACK = "rollback"
FAILURE = "failure"
DAEMON_STOP = "daemon_stop"
WATCHDOG = "watchdog"
EVENTS = NOTIFY_EVENTS  # one list, the config's: what `[[notify]] events` may name

# The event a decision announces. A dry run's would_promote announces nothing beyond its
# retrain: nothing changed and nobody is asked to act.
_BY_ACTION = {
    Action.BOOTSTRAP: PROMOTE,
    Action.PROMOTE: PROMOTE,
    Action.MANUAL_PROMOTE: PROMOTE,
    Action.REJECT: REJECT,
    Action.INCONCLUSIVE: REJECT,
    Action.AWAITING_APPROVAL: AWAITING_APPROVAL,
    Action.ROLLBACK: ROLLBACK,
}


@dataclass(frozen=True, slots=True)
class Event:
    """One notification. ``at`` is the data clock (the run's ``now``, which ``--now`` sets in a
    replay); ``recorded_at`` the wall clock when it was emitted. ``action`` is the decision's
    exact action (``inconclusive`` and ``reject`` are both the event ``reject``)."""

    event: str
    model: str | None = None
    version: str | None = None
    run_id: int | None = None
    decision_id: int | None = None
    action: str | None = None
    reason: str = ""
    at: str = ""
    recorded_at: str = ""
    host: str = ""
    driftd_version: str = __version__

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def to_json(self) -> bytes:
        return json.dumps(self.to_dict(), sort_keys=True).encode()


def iso(moment: datetime) -> str:
    """The registry's time format (UTC, milliseconds, ``Z``)."""
    return utc_iso(moment if moment.tzinfo else moment.replace(tzinfo=UTC))


def make(name: str, at: datetime | None = None, **fields: Any) -> Event:
    """An event stamped now, on this host; ``at`` defaults to the wall clock."""
    wall = datetime.now(UTC)
    return Event(
        name,
        at=iso(at or wall),
        recorded_at=iso(wall),
        host=socket.gethostname(),
        **fields,
    )


def decision_event(
    model: str,
    version: str | None,
    decision: Decision,
    *,
    at: datetime | None,
    run_id: int | None = None,
    decision_id: int | None = None,
) -> Event | None:
    """The event a decision announces, or None (would_promote, gc)."""
    name = _BY_ACTION.get(decision.action)
    if name is None:
        return None
    return make(
        name,
        at,
        model=model,
        version=version,
        run_id=run_id,
        decision_id=decision_id,
        action=str(decision.action),
        reason=decision.reason,
    )


def from_result(result: Any, at: datetime, decision_id: int | None) -> list[Event]:
    """The events of one finished cycle (a :class:`driftd.cycle.CycleResult`), in the order
    they happened: drift, retrain, then the decision; or drift (when the check found it) then
    failure."""
    run = result.run_id or None
    out: list[Event] = []
    report = result.report
    if result.status == "drift" or (report is not None and report.verdict is Verdict.DRIFT):
        reason = report.reason if report is not None else ""
        out.append(make(DRIFT, at, model=result.model, run_id=run, reason=reason))
    if result.status == "failed":
        # A retrain that failed after a drifted check: the drift is recorded, so it is announced
        # too; a target that wants only drift would otherwise never hear of it.
        out.append(make(FAILURE, at, model=result.model, run_id=run, reason=result.error or ""))
        return out
    if result.version_id is not None:
        out.append(
            make(
                RETRAIN,
                at,
                model=result.model,
                run_id=run,
                version=result.version_id,
                reason=result.retrain_reason,
            )
        )
    if result.decision is not None:
        decided = decision_event(
            result.model,
            result.version_id,
            result.decision,
            at=at,
            run_id=run,
            decision_id=decision_id,
        )
        if decided is not None:
            out.append(decided)
    return out


def slack_text(e: Event) -> str:
    """One line for a chat channel."""
    subject = e.event.replace("_", " ")
    where = f" on {e.model}" if e.model else ""
    what = f" {e.version}" if e.version and e.event in (PROMOTE, ROLLBACK, REJECT) else ""
    run = f" (run {e.run_id})" if e.run_id else ""
    reason = f": {e.reason}" if e.reason else ""
    return f"driftd: {subject}{where}{what}{run}{reason} [at {e.at} on {e.host}]"
