"""Windows bigger than memory: the dask engine on N live rows x 25 columns of Parquet partitions.

Run: ``.venv/bin/python bench/scale.py [--rows 100M] [--partition-rows 250k] [--dir DIR]
[--compare-rows 10M] [--scheduler threads] [--compression snappy] [--cold]``.

Writes the live window as Parquet partitions (``--partition-rows`` rows each, written one at a
time from a few seeded base partitions, see :func:`generate`), with drift_bench's
columns: 20 numeric (normal, lognormal, bimodal, integer-valued; half shifted by 0.25 SD) and 5
categorical (3 to 1,000 levels, as pandas categories; three shifted). The reference is 200,000
rows of the unshifted distributions. Then, each in a fresh child process so that its peak RSS
(``VmHWM``) is its own: the dask engine on all N rows (summary of the reference, then the window
counted partition by partition and merged), and, on the first ``--compare-rows`` rows (when N
holds that many), both engines, whose results are compared feature by feature (same states;
KS within the binned TOLERANCE; chi-square identical). Prints rows per second (wall clock and
CPU) and peak RSS, and the figures as JSON on the last line. Freshly written partitions sit in
the OS page cache when they fit in RAM; ``--cold`` evicts them before each run (see :func:`evict`).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from drift_bench import CARDINALITIES, _numeric, parse_size

REFERENCE_ROWS = 200_000


def _columns(rng: np.random.Generator, n: int, live: bool) -> pd.DataFrame:
    out: dict[str, Any] = {}
    for i in range(20):
        family = ("normal", "lognormal", "bimodal", "integer")[i % 4]
        out[f"{family}_{i}"] = _numeric(rng, family, n, 0.25 if live and i % 2 == 0 else 0.0)
    for j, k in enumerate(CARDINALITIES):
        levels = [f"level_{i:04d}" for i in range(k)]
        weights = 1.0 / np.arange(1, k + 1) ** 0.8
        p = weights / weights.sum()
        q = 0.8 * p + 0.2 * p[::-1] if live and j % 2 == 0 else p
        codes = rng.choice(k, size=n, p=q)
        out[f"cat_{k}"] = pd.Categorical.from_codes(codes, categories=levels)
    return pd.DataFrame(out)


POOLS = 4  # seeded base partitions the live ones are drawn from


def generate(directory: Path, rows: int, partition_rows: int, compression: str = "snappy") -> float:
    """Write the reference and the live partitions; the seconds it took.

    Drawing 25 columns costs about 0.9 s per 250,000 rows here (the 1,000-level categorical's
    weighted choice most of it) and writing them as snappy Parquet 1.2 s: 100M rows took over
    13 minutes. So ``POOLS`` partitions are drawn once (seeded), and each live partition is one
    of them with every column rotated by its own seeded offset: the same distributions, rows
    that differ from partition to partition, 0.02 s to make. They are written without column
    statistics (the count reads none), snappy-compressed by default like pandas' own Parquet
    (18 % smaller than uncompressed on these columns): 100M rows in about 65 s here."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    started = time.monotonic()
    directory.mkdir(parents=True, exist_ok=True)
    _columns(np.random.default_rng(0), REFERENCE_ROWS, live=False).to_parquet(
        directory / "reference.parquet", index=False
    )
    live = directory / "live"
    live.mkdir(exist_ok=True)
    pools = [
        _columns(np.random.default_rng(1 + i), partition_rows, live=True) for i in range(POOLS)
    ]
    categorical = [
        c for c in pools[0].columns if isinstance(pools[0][c].dtype, pd.CategoricalDtype)
    ]
    for i, start in enumerate(range(0, rows, partition_rows)):
        n = min(partition_rows, rows - start)
        base, rng = pools[i % POOLS], np.random.default_rng(1_000 + i)
        columns: dict[str, Any] = {}
        for name in base.columns:
            turn = int(rng.integers(partition_rows))
            column = base[name]
            if name in categorical:
                codes = np.roll(column.cat.codes.to_numpy(), turn)[:n].astype(np.int16)
                labels = pa.array(column.cat.categories.to_numpy())
                columns[name] = pa.DictionaryArray.from_arrays(pa.array(codes), labels)
            else:
                columns[name] = pa.array(np.roll(column.to_numpy(), turn)[:n])
        pq.write_table(
            pa.table(columns),
            live / f"part-{i:05d}.parquet",
            compression=compression,
            use_dictionary=categorical,
            write_statistics=False,
        )
    return time.monotonic() - started


def _peak_rss_mb() -> float:
    """This process's peak resident set (VmHWM), in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child(engine: str, directory: Path, files: int | None, scheduler: str) -> dict[str, Any]:
    """One engine on the reference and the first ``files`` live partitions (all when None)."""
    from driftd import detect
    from driftd.config import DriftConfig

    parts = sorted((directory / "live").glob("part-*.parquet"))[:files]
    reference = pd.read_parquet(directory / "reference.parquet")
    kinds = detect.infer_kinds(reference)
    cfg = DriftConfig()
    wall, cpu = time.monotonic(), time.process_time()
    if engine == "dask":
        from driftd.dask import compare

        pattern = str(directory / "live" / "part-*.parquet") if files is None else None
        if pattern is None:  # the first partitions only: a directory of links to them
            subset = directory / f"first-{files}"
            subset.mkdir(exist_ok=True)
            for p in parts:
                link = subset / p.name
                if not link.exists():
                    link.symlink_to(p)
            pattern = str(subset)
        report = compare.compare(reference, pattern, kinds, cfg, scheduler)
    else:
        live = pd.concat([pd.read_parquet(p) for p in parts], ignore_index=True)
        summary = detect.summarize(reference, kinds, binned=detect.binnable(cfg), ordered=False)
        report = detect.detect(summary, live, cfg, ordered=False)
    wall, cpu = time.monotonic() - wall, time.process_time() - cpu
    return {
        "engine": engine,
        "rows": report.n_live,
        "wall_s": round(wall, 2),
        "cpu_s": round(cpu, 2),
        "rows_per_s": round(report.n_live / wall),
        "peak_rss_mb": round(_peak_rss_mb()),
        "verdict": str(report.verdict),
        "features": {
            f.feature: [str(f.state), f.test, f.statistic, f.p_value, f.effect]
            for f in report.features
        },
    }


def evict(directory: Path) -> None:
    """Drop the live partitions' pages from the OS page cache (this benchmark's files only:
    fsync, then POSIX_FADV_DONTNEED), so that the next read comes from the disk."""
    for path in (directory / "live").glob("part-*.parquet"):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(fd)


def _run_child(
    engine: str, directory: Path, files: int | None, scheduler: str, cold: bool = False
) -> dict[str, Any]:
    if cold:
        evict(directory)
    argv = [sys.executable, __file__, "--child", engine, "--dir", str(directory)]
    argv += ["--scheduler", scheduler] + (["--files", str(files)] if files else [])
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run(argv, capture_output=True, text=True, env=env, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{engine} child failed:\n{done.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def compare_results(ours: dict[str, Any], theirs: dict[str, Any]) -> dict[str, Any]:
    """States equal, largest KS gap, largest chi-square difference."""
    from driftd.stats.binned import TOLERANCE

    states, ks, chi2 = True, 0.0, 0.0
    for name, (state, test, stat, _p, _e) in theirs["features"].items():
        mine = ours["features"][name]
        states &= mine[0] == state
        if test == "ks":
            ks = max(ks, abs(mine[2] - stat))
        else:
            chi2 = max(chi2, abs(mine[2] - stat) / max(abs(stat), 1e-300))
    return {
        "states_equal": states,
        "max_ks_gap": ks,
        "ks_tolerance": TOLERANCE,
        "max_chi2_rel_diff": chi2,
        "verdicts": [ours["verdict"], theirs["verdict"]],
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", default="100M")
    ap.add_argument("--partition-rows", default="250k")
    ap.add_argument("--compare-rows", default="10M")
    ap.add_argument("--dir", type=Path)
    ap.add_argument("--scheduler", default="threads")
    ap.add_argument("--compression", default="snappy", help="Parquet codec: snappy, none, zstd")
    ap.add_argument("--keep", action="store_true", help="keep the generated data")
    ap.add_argument(
        "--cold",
        action="store_true",
        help="evict the partitions from the page cache before each run",
    )
    ap.add_argument("--child", choices=("dask", "memory"), help=argparse.SUPPRESS)
    ap.add_argument("--files", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.dir, args.files, args.scheduler)))
        return
    rows, per = parse_size(args.rows), parse_size(args.partition_rows)
    compare_rows = parse_size(args.compare_rows)
    directory = args.dir or Path(tempfile.mkdtemp(prefix="driftd-scale-"))
    try:
        print(f"generating {rows:,} rows x 25 columns in {per:,}-row partitions in {directory}")
        gen = generate(directory, rows, per, args.compression)
        size = sum(p.stat().st_size for p in (directory / "live").iterdir()) / 2**20
        print(f"  {gen:.0f} s, {size:,.0f} MB of Parquet")
        figures: dict[str, Any] = {
            "rows": rows,
            "partition_rows": per,
            "compression": args.compression,
            "cold": args.cold,
            "parquet_mb": round(size),
            "generate_s": round(gen),
        }
        full = _run_child("dask", directory, None, args.scheduler, args.cold)
        figures["dask_full"] = {k: v for k, v in full.items() if k != "features"}
        _show(full)
        if rows >= compare_rows:
            files = -(-compare_rows // per)
            pair = [
                _run_child(e, directory, files, args.scheduler, args.cold)
                for e in ("dask", "memory")
            ]
            for result in pair:
                _show(result)
            figures["at_compare_rows"] = {
                "dask": {k: v for k, v in pair[0].items() if k != "features"},
                "memory": {k: v for k, v in pair[1].items() if k != "features"},
                **compare_results(*pair),
            }
            print(f"  comparison: {json.dumps(figures['at_compare_rows'], default=str)}")
        print(json.dumps(figures))
    finally:
        if not args.keep and args.dir is None:
            shutil.rmtree(directory, ignore_errors=True)


def _show(r: dict[str, Any]) -> None:
    print(
        f"  {r['engine']:6s} {r['rows']:>13,} rows  {r['wall_s']:8.1f} s wall  "
        f"{r['cpu_s']:8.1f} s CPU  {r['rows_per_s']:>12,} rows/s  "
        f"peak RSS {r['peak_rss_mb']:,} MB  verdict {r['verdict']}"
    )


if __name__ == "__main__":
    main()
