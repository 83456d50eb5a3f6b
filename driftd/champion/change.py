"""What follows a committed champion change: the pointer file, then the hook.

Called by every writer that moves the champion (the cycle's promotions and bootstraps,
``driftd promote`` and ``driftd rollback``, :class:`driftd.Registry`), after the transaction
has committed. It never raises: the decision is already the truth, and a pointer that could not
be written is repaired by the next start-up sweep (or the next change); a failed hook is
recorded and shown by ``driftd status``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from driftd.champion import hooks, pointer
from driftd.errors import DriftdError
from driftd.log import event

if TYPE_CHECKING:
    from driftd.config import Config
    from driftd.registry.store import Registry


@dataclass(frozen=True, slots=True)
class Change:
    """The pointer as written (None: no champion, or not written), why it was not written, and
    the hook's outcome (None: no hook configured, or no pointer to announce)."""

    pointer: dict[str, Any] | None
    pointer_error: str | None = None
    hook: hooks.HookOutcome | None = None

    def warnings(self) -> list[str]:
        """One line per thing that went wrong, for the CLI's stderr."""
        out = []
        if self.pointer_error:
            out.append(f"champion pointer not written ({self.pointer_error}); the decision stands")
        if self.hook is not None and not self.hook.ok:
            out.append(f"{self.hook.summary()}; the decision stands")
        return out


def after_commit(cfg: Config, model: str, registry: Registry) -> Change:
    """Publish ``model``'s pointer from the registry, then run its hook if one is configured."""
    path = pointer.pointer_path(cfg.artifacts, model)
    failure: str | None = None
    try:
        current = pointer.publish(cfg.artifacts, cfg.registry, model)
    except (OSError, DriftdError) as exc:
        error = f"{getattr(exc, 'filename', None) or path}: {getattr(exc, 'strerror', None) or exc}"
        event("champion.pointer_failed", logging.WARNING, model=model, error=error)
        # The hook still runs, from the registry's row: the change happened.
        current, failure = _from_registry(cfg, model), error
    if current is None:
        return Change(None, failure)
    event("champion.pointer", model=model, version=current["version"], written=failure is None)
    hook = _hook(cfg, model)
    if hook is None:
        return Change(current if failure is None else None, failure)
    outcome = hooks.run(hook[0], hook[1], current, str(path))
    try:
        registry.record_hook(outcome.row())
    except DriftdError as exc:
        event("champion.hook_unrecorded", logging.WARNING, model=model, error=str(exc))
    return Change(current if failure is None else None, failure, outcome)


def _hook(cfg: Config, model: str) -> tuple[tuple[str, ...], Any] | None:
    for m in cfg.models:
        if m.name == model:
            return hooks.configured(m.promotion)
    return None


def _from_registry(cfg: Config, model: str) -> dict[str, Any] | None:
    try:
        return pointer.expected(cfg.registry, model)
    except DriftdError:
        return None
