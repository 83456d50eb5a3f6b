"""``driftd export mlflow --tracking-uri URI [--model NAME]``: the registry into MLflow.

Every version becomes an MLflow run (lineage as params, tags and metrics) and a registered
model version; the alias ``champion`` follows the current champion. Idempotent: a second run
creates nothing new and refreshes the tags that change. MLflow is the optional extra
``driftd[mlflow]``, imported only by :mod:`driftd.export_mlflow`.
"""

from __future__ import annotations

import argparse
from typing import Any

from driftd.commands import Add, common


def register(add: Add, as_json: argparse.ArgumentParser) -> None:
    p = add("export", cmd_export, "export versions and the champion to MLflow", as_json)
    p.add_argument("target", choices=("mlflow",), help="where to export (mlflow)")
    p.add_argument(
        "--tracking-uri",
        required=True,
        help="MLflow tracking URI, e.g. sqlite:///var/lib/mlflow/mlflow.db or http://host:5000",
    )
    p.add_argument("--registry-uri", help="MLflow model registry URI (default: the tracking URI)")
    p.add_argument("--model", help="export only this model (default: every model of the config)")
    p.add_argument(
        "--experiment", default="driftd", help="MLflow experiment for the runs (default: driftd)"
    )


def cmd_export(args: argparse.Namespace) -> int:
    from driftd import export_mlflow
    from driftd.errors import EXIT_OK

    cfg = common.load_config(args)
    models = [cfg.model(args.model).name] if args.model else [m.name for m in cfg.models]
    done, aliases = export_mlflow.export(
        cfg.registry,
        args.tracking_uri,
        models=models,
        registry_uri=args.registry_uri,
        experiment=args.experiment,
    )
    data = {
        "tracking_uri": args.tracking_uri,
        "versions": [
            {
                "version_id": e.version_id,
                "model": e.model,
                "mlflow_version": e.mlflow_version,
                "run_id": e.run_id,
                "created": e.created,
            }
            for e in done
        ],
        "champion_alias": aliases,
    }
    common.emit(args, data, _text)
    return EXIT_OK


def _text(data: dict[str, Any]) -> str:
    lines = [f"exported to {data['tracking_uri']}"]
    for v in data["versions"]:
        how = "created" if v["created"] else "updated"
        lines.append(
            f"  {how:<8} {v['version_id']:<16} -> {v['model']} version {v['mlflow_version']} "
            f"(run {v['run_id']})"
        )
    for model, number in data["champion_alias"].items():
        target = f"version {number}" if number is not None else "none (no champion; alias removed)"
        lines.append(f"  {model}@champion -> {target}")
    return "\n".join(lines)
