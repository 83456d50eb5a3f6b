"""How close are driftd's label-free performance estimates to the realised values?

Prints, for seeded synthetic streams with covariate shift (P(y | x) fixed, the inputs moved)
and for scikit-learn's bundled datasets shifted by selecting rows on a feature's quantile:
the estimation error (estimate minus realised), the band's coverage, and the concept-drift
failure. Also the false-alarm and detection rates of the ``estimated_performance`` trigger.

    python bench/estimate.py                 # everything, 10 seeds
    python bench/estimate.py --part real     # only the bundled datasets
    python bench/estimate.py --calibration isotonic --part synthetic

Not a test: figures for the README.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd
from sklearn.datasets import load_breast_cancer, load_diabetes, load_wine
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from driftd import estimate, policy
from driftd.estimate import cbpe

SHIFTS = (0.0, 0.5, 1.0, 1.5)


def classes(rng: np.random.Generator, n: int, shift: float, concept: float = 0.0) -> tuple:
    """Four normal features, the first moved by ``shift`` SDs (and the second widened);
    ``concept`` turns the first feature's weight around (P(y | x) changes)."""
    x = rng.normal(size=(n, 4))
    x[:, 0] += shift
    x[:, 1] *= 1 + abs(shift) / 2
    logit = (1.5 - 2 * concept) * x[:, 0] - x[:, 1] + 0.5 * x[:, 2] + 0.6 * x[:, 0] ** 2 - 0.6
    y = rng.random(n) < 1 / (1 + np.exp(-logit))
    return pd.DataFrame(x, columns=list("abcd")), y.astype(int)


def values(rng: np.random.Generator, n: int, shift: float) -> tuple:
    x = rng.normal(size=(n, 3))
    x[:, 0] += shift
    noise = rng.normal(size=n) * (0.3 + 0.5 * np.abs(x[:, 0]))  # noisier away from the centre
    y = 2 * x[:, 0] - x[:, 1] + 0.5 * np.sin(2 * x[:, 2]) + noise
    return pd.DataFrame(x, columns=list("abc")), y


def synthetic(seeds: int, calibrations: list[str]) -> None:
    print("classifiers: covariate shift, 3,000 live rows per window, shifts", SHIFTS)
    print(
        f"{'model':5} {'holdout':>7} {'calibration':11} {'mean|err|':>9} {'max|err|':>8} "
        f"{'bias':>7} {'coverage':>8}"
    )
    for name in ("lr", "hgb"):
        for n_holdout in (300, 1000, 3000):
            for calibration in calibrations:
                errors, covered = [], []
                for seed in range(seeds):
                    rng = np.random.default_rng(seed)
                    xt, yt = classes(rng, 3000, 0.0)
                    learner = (
                        HistGradientBoostingClassifier(max_iter=100)
                        if name == "hgb"
                        else (LogisticRegression())
                    )
                    model = learner.fit(xt, yt)
                    xh, yh = classes(rng, n_holdout, 0.0)
                    est = cbpe.fit(model, xh, yh, calibration=calibration, seed=seed)
                    for shift in SHIFTS:
                        xl, yl = classes(rng, 3000, shift)
                        got = est.estimate(xl)[0]
                        real = float((model.predict(xl) == yl).mean())
                        errors.append(got.value - real)
                        covered.append(got.low <= real <= got.high)
                e = np.array(errors)
                print(
                    f"{name:5} {n_holdout:7} {calibration:11} {np.abs(e).mean():9.4f} "
                    f"{np.abs(e).max():8.4f} {e.mean():+7.4f} {np.mean(covered):8.2f}"
                )
    print("\nregressors: DLE, covariate shift, 3,000 live rows per window")
    print(f"{'model':5} {'holdout':>7} {'mean|rel err|':>13} {'max|rel err|':>12} {'coverage':>8}")
    for name in ("lin", "hgb"):
        for n_holdout in (500, 2000):
            errors, covered = [], []
            for seed in range(seeds):
                rng = np.random.default_rng(seed)
                xt, yt = values(rng, 3000, 0.0)
                learner = (
                    HistGradientBoostingRegressor(max_iter=100)
                    if name == "hgb"
                    else (LinearRegression())
                )
                model = learner.fit(xt, yt)
                xh, yh = values(rng, n_holdout, 0.0)
                est = estimate.fit_estimator(model, xh, yh, seed=seed)
                for shift in SHIFTS:
                    xl, yl = values(rng, 3000, shift)
                    got = est.estimate(xl)[0]
                    real = float(np.abs(yl - model.predict(xl)).mean())
                    errors.append(got.value / real - 1)
                    covered.append(got.low <= real <= got.high)
            e = np.abs(np.array(errors))
            print(
                f"{name:5} {n_holdout:7} {e.mean():13.3f} {e.max():12.3f} {np.mean(covered):8.2f}"
            )


def _shifted(x: pd.DataFrame, column: str, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Train/holdout rows drawn from all rows; live = rows above the column's 60th percentile
    that were not used, so the live window is a covariate shift by selection."""
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(x))
    fit_rows, rest = order[: len(x) // 2], order[len(x) // 2 :]
    high = x[column].to_numpy()[rest] > np.quantile(x[column], 0.6)
    return fit_rows, rest[high]


def real(seeds: int) -> None:
    print("\nbundled datasets: live = unused rows above a feature's 60th percentile")
    print(
        f"{'dataset':14} {'metric':8} {'mean est':>8} {'mean real':>9} {'mean|err|':>9} "
        f"{'coverage':>8}  live rows"
    )
    cases = [
        ("breast_cancer", load_breast_cancer(as_frame=True), "mean radius", "clf"),
        ("wine", load_wine(as_frame=True), "alcohol", "clf"),
        ("diabetes", load_diabetes(as_frame=True), "bmi", "reg"),
    ]
    for name, bunch, column, task in cases:
        x, y = bunch.data, bunch.target.to_numpy()
        got_v, real_v, covered, sizes = [], [], [], []
        for seed in range(seeds):
            fit_rows, live_rows = _shifted(x, column, seed)
            train, hold = fit_rows[: len(fit_rows) // 2], fit_rows[len(fit_rows) // 2 :]
            if task == "clf":
                model = make_pipeline(StandardScaler(), LogisticRegression(C=0.1, max_iter=1000))
            else:
                model = LinearRegression()
            model.fit(x.iloc[train], y[train])
            est = estimate.fit_estimator(model, x.iloc[hold], y[hold], seed=seed)
            first = est.estimate(x.iloc[live_rows])[0]
            prediction = model.predict(x.iloc[live_rows])
            truth = y[live_rows]
            value = (
                (prediction == truth).mean() if task == "clf" else np.abs(truth - prediction).mean()
            )
            got_v.append(first.value)
            real_v.append(float(value))
            covered.append(first.low <= value <= first.high)
            sizes.append(len(live_rows))
        g, r = np.array(got_v), np.array(real_v)
        err = np.abs(g - r) if task == "clf" else np.abs(g / r - 1)
        print(
            f"{name:14} {first.metric:8} {g.mean():8.3f} {r.mean():9.3f} "
            f"{err.mean():9.3f}{'' if task == 'clf' else ' rel'} {np.mean(covered):8.2f}  "
            f"{int(np.mean(sizes))}"
        )


def concept(seeds: int) -> None:
    print("\nconcept drift: the first feature's weight turns from +1.5 to -0.5 (no input shift)")
    print(f"{'seed':>4} {'holdout acc':>11} {'estimated':>9} {'realised':>8}")
    for seed in range(min(seeds, 5)):
        rng = np.random.default_rng(seed)
        xt, yt = classes(rng, 3000, 0.0)
        model = HistGradientBoostingClassifier(max_iter=100).fit(xt, yt)
        xh, yh = classes(rng, 1000, 0.0)
        est = estimate.fit_estimator(model, xh, yh, seed=seed)
        xl, yl = classes(rng, 3000, 0.0, concept=1.0)
        got = est.estimate(xl)[0]
        realised = float((model.predict(xl) == yl).mean())
        print(f"{seed:4} {got.reference_value:11.3f} {got.value:9.3f} {realised:8.3f}")


def harder(rng: np.random.Generator, n: int, cut: float | None) -> tuple:
    """``n`` rows, only those with a true |logit| below ``cut``: a covariate shift toward the
    decision boundary, where every model is less accurate (``None``: no shift)."""
    x, y = classes(rng, n if cut is None else 8 * n, 0.0)
    if cut is None:
        return x, y
    a, b, c = (x[k].to_numpy() for k in "abc")
    keep = np.flatnonzero(np.abs(1.5 * a - b + 0.5 * c + 0.6 * a**2 - 0.6) < cut)[:n]
    return x.iloc[keep].reset_index(drop=True), y[keep]


def trigger(seeds: int, max_drop: float = 0.05) -> None:
    print(
        f"\nthe estimated_performance trigger at estimated_drop {max_drop}: "
        "HGB classifier, 1,000 holdout rows; live rows cut to |true logit| < cut"
    )
    print(f"{'live rows':>9} {'cut':>5} {'realised drop':>13} {'estimated drop':>14} {'fires':>5}")
    for n_live in (200, 1000, 5000):
        for cut in (None, 3.0, 1.5):
            drops, estimated, fires = [], [], []
            for seed in range(seeds):
                rng = np.random.default_rng(seed)
                xt, yt = classes(rng, 3000, 0.0)
                model = HistGradientBoostingClassifier(max_iter=100).fit(xt, yt)
                xh, yh = classes(rng, 1000, 0.0)
                est = estimate.fit_estimator(model, xh, yh, seed=seed)
                xl, yl = harder(rng, n_live, cut)
                got = est.estimate(xl)[0]
                verdict = policy.EstimatedPerformance(
                    got.metric,
                    got.value,
                    got.low,
                    got.high,
                    got.reference_value,
                    got.n_rows,
                    max_drop,
                )
                drops.append(got.reference_value - float((model.predict(xl) == yl).mean()))
                estimated.append(verdict.change)
                fires.append(verdict.breached)
            print(
                f"{n_live:9} {cut!s:>5} {np.mean(drops):13.3f} {np.mean(estimated):14.3f} "
                f"{np.mean(fires):5.2f}"
            )


def trigger_regressors(seeds: int, max_drop: float = 0.05) -> None:
    print(
        f"\nthe same trigger for DLE (a relative MAE rise beyond {max_drop:.0%}): 1,000-row windows"
    )
    print(
        f"{'model':5} {'holdout':>7} {'shift':>5} {'realised rise':>13} "
        f"{'estimated rise':>14} {'fires':>5}"
    )
    for name in ("lin", "hgb"):
        for n_holdout in (500, 2000):
            for shift in (0.0, 0.5):
                real, rise, fires = [], [], []
                for seed in range(seeds):
                    rng = np.random.default_rng(seed)
                    learner = (
                        HistGradientBoostingRegressor(max_iter=100)
                        if name == "hgb"
                        else (LinearRegression())
                    )
                    model = learner.fit(*values(rng, 3000, 0.0))
                    est = estimate.fit_estimator(model, *values(rng, n_holdout, 0.0), seed=seed)
                    for _ in range(3):
                        x, y = values(rng, 1000, shift)
                        got = est.estimate(x)[0]
                        verdict = policy.EstimatedPerformance(
                            got.metric,
                            got.value,
                            got.low,
                            got.high,
                            got.reference_value,
                            got.n_rows,
                            max_drop,
                            relative=True,
                        )
                        mae = float(np.abs(y - model.predict(x)).mean())
                        real.append(mae / got.reference_value - 1)
                        rise.append(verdict.change)
                        fires.append(verdict.breached)
                print(
                    f"{name:5} {n_holdout:7} {shift:5} {np.mean(real):13.3f} "
                    f"{np.mean(rise):14.3f} {np.mean(fires):5.2f}"
                )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument(
        "--part", choices=("all", "synthetic", "real", "concept", "trigger"), default="all"
    )
    parser.add_argument("--calibration", default="isotonic,sigmoid")
    args = parser.parse_args()
    started = time.perf_counter()
    if args.part in ("all", "synthetic"):
        synthetic(args.seeds, args.calibration.split(","))
    if args.part in ("all", "real"):
        real(args.seeds)
    if args.part in ("all", "concept"):
        concept(args.seeds)
    if args.part in ("all", "trigger"):
        trigger(args.seeds)
        trigger_regressors(args.seeds)
    print(f"\n({time.perf_counter() - started:.0f}s)")


if __name__ == "__main__":
    main()
