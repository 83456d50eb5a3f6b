"""An operator's promote and rollback, with every refusal, for the CLI and the Python API alike.

The refusals: a reason that is blank, longer than :data:`MAX_REASON` or not one line of
printable text (it is the audit trail); a version whose artifact is missing or not the
recorded bytes (every later cycle would fail to load that champion); a rollback to a version
that never served (that is a promotion) or, without a target, when there is no previous
champion. The registry itself refuses the current champion and a collected artifact.
"""

from __future__ import annotations

import getpass
from dataclasses import dataclass
from typing import TYPE_CHECKING

from driftd.champion.change import Change, after_commit
from driftd.errors import ArtifactError, DriftdError, NotFoundError
from driftd.text import escape

if TYPE_CHECKING:
    from pathlib import Path

    from driftd.config import Config
    from driftd.domain import Decision
    from driftd.registry.store import Registry

MAX_REASON = 1000  # characters: a sentence or two and a ticket link; the log is not a wiki


@dataclass(frozen=True, slots=True)
class Decided:
    """A committed operator decision: the new champion, its decision id, and what followed
    (the pointer file and the hook, :class:`~driftd.champion.change.Change`)."""

    model: str
    version: str
    decision_id: int
    change: Change


def require_reason(reason: str, name: str = "reason") -> None:
    """The decision log keeps one printable line per decision: refuse anything else.

    >>> require_reason("  ")
    Traceback (most recent call last):
    driftd.errors.DriftdError: reason: must not be blank; say why, it goes in the decision log
    """
    if not isinstance(reason, str) or not reason.strip():
        raise DriftdError(f"{name}: must not be blank; say why, it goes in the decision log")
    if len(reason) > MAX_REASON:
        raise DriftdError(
            f"{name}: at most {MAX_REASON} characters (got {len(reason)}); "
            "link to longer notes instead"
        )
    control = next((c for c in reason if not c.isprintable()), None)
    if control is not None:
        raise DriftdError(
            f"{name}: must be one line of printable text (got {escape(control)} at "
            f"character {reason.index(control) + 1})"
        )


def default_actor(prefix: str) -> str:
    """``prefix:user``, or ``prefix`` alone when the user has no name."""
    try:
        return f"{prefix}:{getpass.getuser()}"
    except (KeyError, OSError):
        return prefix


def promote(
    cfg: Config, model: str, version: str, *, reason: str, actor: str, notify: bool = True
) -> Decided:
    """Make ``version`` (``3``, ``v3`` or ``churn-v3``) the champion of ``model``; with
    ``notify``, then tell the ``[[notify]]`` targets (:func:`announce`)."""
    from driftd.domain import Action, Decision
    from driftd.registry import queries

    require_reason(reason)
    version_id = queries.resolve_version(cfg.registry, model, version)
    decision = Decision(Action.MANUAL_PROMOTE, reason)
    return _decide(cfg, model, version_id, decision, actor, notify)


def rollback(
    cfg: Config,
    model: str,
    to: str | None = None,
    *,
    reason: str,
    actor: str,
    notify: bool = True,
) -> Decided:
    """Move the champion back to ``to``, a former champion, or by default the previous one;
    with ``notify``, then tell the ``[[notify]]`` targets (:func:`announce`)."""
    from driftd.domain import Action, Decision
    from driftd.registry import queries

    require_reason(reason)
    history = queries.champion_history(cfg.registry, model)
    if to:
        version = queries.resolve_version(cfg.registry, model, to)
        if version not in {h["version_id"] for h in history}:
            # A rollback returns to a model that served; anything else is a promotion.
            raise DriftdError(
                f"{model}: {version} was never champion; use `driftd promote` for a new one"
            )
    else:
        current = queries.champion(cfg.registry, model)
        previous = [
            h["version_id"]
            for h in history
            if current is None or h["version_id"] != current["version_id"]
        ]
        if not previous:
            raise NotFoundError(f"{model}: no previous champion to roll back to")
        version = previous[0]
    return _decide(cfg, model, version, Decision(Action.ROLLBACK, reason), actor, notify)


def _decide(
    cfg: Config, model: str, version: str, decision: Decision, actor: str, notify: bool
) -> Decided:
    """One transaction that moves the pointer and appends the log row; then the pointer file
    and the hook (:func:`~driftd.champion.change.after_commit`), then the notifications."""
    from driftd.registry.store import Registry
    from driftd.registry.verify import artifact_problem

    problem = artifact_problem(cfg.registry, version)
    if problem:
        raise ArtifactError(f"{problem}; champion unchanged")
    registry = Registry.open(cfg.registry, group=cfg.group, create=False)
    try:
        decision_id = registry.decide(model, version, decision, run_id=None, actor=actor)
        change = after_commit(cfg, model, registry)
        if notify:
            announce(cfg, registry, model, version, decision, decision_id)
    finally:
        registry.close()
    return Decided(model, version, decision_id, change)


def announce(
    cfg: Config,
    registry: Registry | Path,
    model: str,
    version: str,
    decision: Decision,
    decision_id: int,
) -> None:
    """Deliver the decision's event (``promote``, ``rollback``) to the ``[[notify]]`` targets
    that want it, in this thread, each bounded by its timeout and retries. Never raises: a
    failure is logged and recorded in ``deliveries`` (``driftd status`` shows it), and the
    decision stands. The daemon announces its own decisions from the cycle's result."""
    from driftd import alerts

    event = alerts.decision_event(model, version, decision, at=None, decision_id=decision_id)
    if event is None:
        return
    dispatcher = alerts.Dispatcher(lambda: cfg, registry, background=False)
    try:
        dispatcher.emit(event)
    finally:
        dispatcher.close()
