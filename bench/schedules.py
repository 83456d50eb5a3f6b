"""How much of the retrain-every-step gain can a training budget buy by its timing alone?

Run: ``.venv/bin/python -P bench/schedules.py [--stream flights] [--draws 2000]
[--replay RESULTS.json]``.

``bench/replay.py`` scores driftd by its *share of the gain*: ``(driftd - never) / (every -
never)`` of the mean prequential metric, with a floor of 90 % on at most 25 % of steps
training. This script asks what that share looks like for schedules that know nothing: it fits,
at every step, the model a promotion would deploy (``training.window + holdout`` of the newest
labelled rows, as ``promotion.refit`` does) and scores each on every later step's next window,
then replays thousands of schedules that train on ``n`` steps drawn at random (and every
regular cadence at each offset), always deploying what they train. No gate, no trigger: the
spread of the share at a given number of trainings is what the timing of the trainings alone
does on that stream, the noise floor any trigger and promotion rule is measured against.
``--replay`` places a ``bench/replay.py --json`` result's own share among the random schedules
with as many trainings.

The stream, its steps, its model and its windows are ``bench/replay.py``'s (same config, same
fitting and scoring helpers), so the ``never`` and ``every`` rows equal the replay's.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from replay import _fit, _metric, _window, write_inputs
from streams import STREAMS

from driftd import config
from driftd.cli import name_checks

BUDGETS = (0.13, 0.17, 0.25, 0.33, 0.5)  # trainings per step, at most
CADENCES = (2, 3, 4, 5, 6, 8)  # a regular schedule: every k-th step


def score_matrix(name: str) -> tuple[np.ndarray, float, float]:
    """``S[i, j]``: the model deployed at step ``i`` (row ``K``: the first model, fitted on the
    reference) scored on step ``j``'s next window, for ``i <= j``; and the replay's ``never``
    and ``every`` means."""
    stream = STREAMS[name]()
    with tempfile.TemporaryDirectory() as tmp:
        cfg = config.load(write_inputs(stream, Path(tmp)), name_checks())
    model = cfg.model(stream.name)
    scorer = model.promotion.scorer
    frame = stream.frame[stream.frame[stream.target].notna()]
    checks = stream.checks()
    k = len(checks)
    delay, holdout, window = model.data.label_delay, model.promotion.holdout, model.training.window

    def rows(start, end):  # type: ignore[no-untyped-def]
        return _window(frame, stream.timestamp, start, end)

    nexts = [rows(t, t + stream.step) for t in checks]
    first = _fit(model, stream, stream.reference())
    s = np.full((k + 1, k), np.nan)
    every = np.empty(k)
    for j, now in enumerate(checks):
        s[k, j] = _metric(first, nexts[j], stream, scorer)
        begin = now - delay - holdout - window
        deployed = _fit(model, stream, rows(begin, now - delay))
        for i in range(j, k):
            s[j, i] = _metric(deployed, nexts[i], stream, scorer)
        if j == 0:
            every[j] = s[k, 0]  # every policy starts from the same first model
        else:
            evaluated = _fit(model, stream, rows(begin, now - delay - holdout))
            every[j] = _metric(evaluated, nexts[j], stream, scorer)
        print(f"  fitted step {j + 1}/{k}", end="\r", file=sys.stderr, flush=True)
    print(file=sys.stderr)
    return s, float(np.mean(s[k])), float(np.mean(every))


def share(s: np.ndarray, steps: set[int], never: float, every: float) -> float:
    """The share of the gain of a schedule that trains (and deploys) at ``steps``."""
    k = s.shape[1]
    current, scores = k, []
    for j in range(k):
        if j in steps:
            current = j
        scores.append(s[current, j])
    return (float(np.mean(scores)) - never) / (every - never)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stream", default="flights", choices=sorted(STREAMS))
    parser.add_argument("--draws", type=int, default=2000, help="random schedules per budget")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--replay", type=Path, help="a bench/replay.py --json result to place")
    args = parser.parse_args()
    with threadpool_limits(limits=1):
        s, never, every = score_matrix(args.stream)
    k = s.shape[1]
    if not every > never:
        raise SystemExit(f"{args.stream}: retraining every step does not beat never ({every:.4f})")
    later = np.arange(1, k)  # the first step trains the first model under every schedule
    rng = np.random.default_rng(args.seed)
    print(f"{args.stream}: {k} steps; never {never:.4f}, every step {every:.4f}\n")
    print("| schedule | trainings/step | share of gain: median | 10 %..90 % | P(share >= 90 %) |")
    print("|---|--:|--:|--:|--:|")
    by_count: dict[int, np.ndarray] = {}

    def random_shares(n: int) -> np.ndarray:
        if n not in by_count:
            draws = [set(rng.choice(later, n, replace=False)) for _ in range(args.draws)]
            by_count[n] = np.array([share(s, d, never, every) for d in draws])
        return by_count[n]

    for budget in BUDGETS:
        n = max(1, int(budget * (k - 1) + 1e-9))  # within the budget
        v = random_shares(n)
        print(
            f"| {n} steps at random | {n / (k - 1):.2f} | {np.median(v):.0%} "
            f"| {np.quantile(v, 0.1):.0%}..{np.quantile(v, 0.9):.0%} | {np.mean(v >= 0.9):.0%} |"
        )
    for cadence in CADENCES:
        shares = [
            share(s, {j for j in later if (j - offset) % cadence == 0}, never, every)
            for offset in range(cadence)
        ]
        n = len([j for j in later if j % cadence == 0])
        print(
            f"| every {cadence} steps, each offset | {n / (k - 1):.2f} "
            f"| {np.median(shares):.0%} | {min(shares):.0%}..{max(shares):.0%} "
            f"| {np.mean(np.array(shares) >= 0.9):.0%} |"
        )
    if args.replay:
        results = json.loads(args.replay.read_text(encoding="utf-8"))
        found = [r for r in results if r["stream"] == args.stream]
        if not found:
            raise SystemExit(f"{args.replay}: no result for stream {args.stream!r}")
        mine = found[0]
        n = round(mine["policies"]["driftd"]["trainings_per_step"] * (k - 1))
        v = random_shares(max(n, 1))
        got = mine["gain_share"]
        print(
            f"\n{args.replay}: driftd's share {got:.0%} with {n} trainings; "
            f"{np.mean(v < got):.0%} of random schedules with as many trainings do worse"
        )


if __name__ == "__main__":
    main()
