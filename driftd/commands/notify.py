"""``driftd notify EVENT --reason TEXT [--model NAME]``: send one event to the configured
``[[notify]]`` targets now, and say how each delivery went.

For two jobs: trying a new target ("does the webhook work from this host, with this
credential?"), and announcing what driftd itself cannot, such as the service having failed
(``systemd/driftd-notify-failure@.service``, started by ``OnFailure=``). Exit 0 when every
target took it, 1 when one did not, 2 when no target wants the event.
"""

from __future__ import annotations

import argparse

from driftd.commands import Add, common


def register(add: Add, as_json: argparse.ArgumentParser) -> None:
    from driftd.config import NOTIFY_EVENTS  # not driftd.alerts: every command builds this parser

    p = add("notify", _cmd, "send one event to the [[notify]] targets now (a test, OnFailure=)")
    p.add_argument("event", choices=NOTIFY_EVENTS)
    p.add_argument("--reason", required=True, help="what happened, one line")
    p.add_argument("--model", help="the model it concerns (its own targets hear it too)")
    p.add_argument("--version", dest="version_id", help="the version it concerns")


def _cmd(args: argparse.Namespace) -> int:
    from driftd import alerts, log
    from driftd.alerts import record, targets
    from driftd.alerts.deliver import deliver
    from driftd.errors import EXIT_DRIFT, EXIT_OK, DriftdError
    from driftd.registry.store import Registry
    from driftd.text import escape

    cfg = common.load_config(args)
    if args.model:
        cfg.model(args.model)  # ConfigError naming the unknown model
    log.setup("warning")
    event = alerts.make(args.event, model=args.model, version=args.version_id, reason=args.reason)
    chosen = targets.wanting(targets.configured(cfg, args.model), args.event)
    if not chosen:
        raise DriftdError(f"no [[notify]] target wants {args.event!r} events in {cfg.source}")
    registry = Registry.open(cfg.registry, create=False) if cfg.registry.exists() else None
    failed = 0
    try:
        for target in chosen:
            outcome = deliver(target, event)
            failed += not outcome.ok
            if registry is not None:  # recorded like the daemon's deliveries
                record.record(registry, event, target.describe(), outcome)
            said = "ok" if outcome.ok else f"failed: {outcome.error}"
            print(escape(f"{target.describe()}: {said} ({outcome.attempts} attempt(s))"))
    finally:
        if registry is not None:
            registry.close()
    return EXIT_DRIFT if failed else EXIT_OK
