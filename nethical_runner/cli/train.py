"""``nethical-runner train``: the old script's flags, turned into an in-memory spec.

``train`` accepts every flag of ``train_any_model.py`` with the same defaults and builds a spec
from them, so the command line and ``pytest specs/`` run the same pipeline. Its data flags
(``--data-csv``, ``--kaggle-dataset`` and their companions) become the spec's ``data`` section,
so a CSV named on the command line gets every check a spec's CSV gets, and each problem is told
by the flag it came from.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
from datetime import datetime
from pathlib import Path
from typing import Any

from nethical_runner._escape import clip, printable
from nethical_runner.models import SCRIPT_TYPES
from nethical_runner.run.loading import build_spec
from nethical_runner.spec import Spec, SpecError
from nethical_runner.spec.yaml_source import Document, Mark, Problem

COMMAND_LINE = Path("<command line>")
FLAG_OF_KEY = {
    "training.epochs": "--epochs",
    "training.batch_size": "--batch-size",
    "training.seed": "--seed",
    "data.samples": "--num-samples",
    "cohorts[0].id": "--cohort-id",
    "data.csv.path": "--data-csv",
    "data.csv.label": "--label",
    "data.csv.features": "--features",
    "data.csv.positive": "--positive",
    "data.kaggle.dataset": "--kaggle-dataset",
    "data.kaggle.file": "--kaggle-file",
    "data.kaggle.version": "--kaggle-version",
    "data.kaggle.label": "--label",
    "data.kaggle.features": "--features",
    "data.kaggle.positive": "--positive",
}
_INDEXED_KEY = re.compile(r"(?P<key>.+)\[(?P<index>\d+)\]")  # data.csv.features[2]
DEFAULT_SYNTHETIC_SAMPLES = 10000
# A table's columns are numbers, never the action sequences the anomaly type reads by default.
TABLE_MODEL_PARAMS: dict[str, dict[str, Any]] = {"anomaly": {"method": "isolation_forest"}}
DRIFT_GROUP = "train"  # every `train --enable-drift-tracking` run into one folder accumulates


def add_train_parser(commands: Any) -> argparse.ArgumentParser:
    """The ``train`` subcommand with the old script's flags; the run options are the caller's."""
    train = commands.add_parser("train", help="train from seed-compatible flags")
    train.add_argument(
        "--model-type",
        required=True,
        choices=[*SCRIPT_TYPES, "all"],
        help="model type to train, or all of them",
    )
    # No argparse defaults: a flag not given is a key not written, so the spec's own default
    # applies and a model that ignores the setting is not warned about it.
    train.add_argument("--epochs", type=int, help="training epochs (default: 10)")
    train.add_argument("--batch-size", type=int, help="batch size (default: 32)")
    train.add_argument(
        "--num-samples",
        type=int,
        default=None,
        help=f"samples to use (default: {DEFAULT_SYNTHETIC_SAMPLES} synthetic rows; with "
        "--data-csv or --kaggle-dataset: at most this many rows of the file, default all)",
    )
    train.add_argument("--seed", type=int, default=42, help="random seed (default: 42)")
    _add_data_flags(train)
    audit = train.add_argument_group("audit logging")
    audit.add_argument("--enable-audit", action="store_true", help="enable Merkle audit logging")
    audit.add_argument(
        "--audit-path",
        type=Path,
        default=None,
        help="audit log folder (default: <out>/audit, the old script's training_audit_logs moved "
        "under the output root)",
    )
    drift = train.add_argument_group("drift tracking")
    drift.add_argument(
        "--enable-drift-tracking", action="store_true", help="enable ethical drift tracking"
    )
    drift.add_argument(
        "--drift-report-dir",
        type=Path,
        default=None,
        help="drift report and history folder; runs into the same folder are compared (default: "
        "<out>/drift, the old script's training_drift_reports moved under the output root)",
    )
    drift.add_argument(
        "--cohort-id", default=None, help="cohort id (default: {model-type}_{timestamp})"
    )
    sla = train.add_argument_group("SLA monitoring")
    sla.add_argument(
        "--enable-sla-monitoring",
        action="store_true",
        help="time predictions against the old script's SLA: p95 220, p99 500, avg 100 ms",
    )
    sla.add_argument(
        "--sla-report-dir",
        type=Path,
        default=None,
        help="SLA report folder (default: <out>/sla, the old script's training_sla_reports moved "
        "under the output root)",
    )
    return train


def _add_data_flags(train: argparse.ArgumentParser) -> None:
    """The old script's data sources: a table of the user's own, or a Kaggle dataset with the
    synthetic fallback (synthetic rows alone when neither is given)."""
    data = train.add_argument_group(
        "data (default: synthetic rows)",
        "paths are relative to the current directory; a file outside it may be named too",
    )
    source = data.add_mutually_exclusive_group()
    source.add_argument("--data-csv", metavar="PATH", help="train on this CSV file (needs --label)")
    source.add_argument(
        "--kaggle-dataset",
        metavar="OWNER/SLUG",
        help="train on a Kaggle dataset (needs --kaggle-file), cached after the first download; "
        "when it cannot be had, on synthetic rows, with a warning and every result marked",
    )
    data.add_argument("--kaggle-file", metavar="FILE", help="the CSV file inside the dataset")
    data.add_argument(
        "--kaggle-version", type=int, metavar="N", help="dataset version (default: latest)"
    )
    data.add_argument(
        "--no-fallback",
        action="store_true",
        help="fail (exit 2) when the Kaggle dataset cannot be had, instead of training on "
        "synthetic rows",
    )
    data.add_argument("--label", metavar="COLUMN", help="the label column")
    data.add_argument(
        "--features",
        metavar="A,B,C",
        help="feature columns, comma-separated (default: the old script's five risk features "
        "when the file has them, else every numeric column but the label)",
    )
    data.add_argument(
        "--positive",
        metavar="VALUE",
        help="the label value that means 1, for labels that are not 0/1 (digits: a number)",
    )


def specs_from_flags(args: argparse.Namespace) -> list[Spec]:
    """One spec per model type the flags name (``--model-type all``: every type)."""
    types = list(SCRIPT_TYPES) if args.model_type == "all" else [args.model_type]
    return [_spec_from_flags(args, model_type) for model_type in types]


def _spec_from_flags(args: argparse.Namespace, model_type: str) -> Spec:
    """The spec the old script's flags describe, validated exactly like a spec file."""
    cohort_id = args.cohort_id or f"{model_type}_{datetime.now():%Y%m%d_%H%M%S}"
    data, root = _data_from_flags(args)
    model: dict[str, Any] = {"type": model_type}
    if data["source"] != "synthetic" and model_type in TABLE_MODEL_PARAMS:
        model["params"] = TABLE_MODEL_PARAMS[model_type]
    given = {"epochs": args.epochs, "batch_size": args.batch_size}
    raw: dict[str, Any] = {
        "version": 1,
        "name": model_type,
        "model": model,
        "training": {
            "seed": args.seed,
            **{key: value for key, value in given.items() if value is not None},
        },
        "data": data,
        "cohorts": [{"id": cohort_id}],
    }
    if args.enable_sla_monitoring:
        raw["sla"] = {}  # the old script's targets
    if args.enable_audit:
        raw["audit"] = {"enabled": True}
    if args.enable_drift_tracking:
        raw["drift"] = {"group": DRIFT_GROUP}  # default spreads, across runs into the folder
    digest = hashlib.sha256(json.dumps(raw, sort_keys=True).encode()).hexdigest()
    return build_spec(COMMAND_LINE, Document(raw), digest, root=root)


def _data_from_flags(args: argparse.Namespace) -> tuple[dict[str, Any], Path]:
    """The ``data`` section the data flags describe and the root its path is relative to.

    A spec's data must stay inside the project root because a spec may come from a pull
    request; a path typed on the command line is the user's own choice. So the root is the
    current directory when the file is inside it (the path then reads as typed in every
    message) and the file's own folder otherwise: every check of a spec's file still runs.
    """
    _refuse_stray_data_flags(args)
    root = Path.cwd()
    if args.data_csv is None and args.kaggle_dataset is None:
        samples = DEFAULT_SYNTHETIC_SAMPLES if args.num_samples is None else args.num_samples
        return {"source": "synthetic", "samples": samples}, root
    columns: dict[str, Any] = {}
    if args.label is not None:
        columns["label"] = args.label
    if args.features is not None:
        columns["features"] = _feature_names(args.features)
    if args.positive is not None:
        number = re.fullmatch(r"-?[0-9]+", args.positive)
        columns["positive"] = int(args.positive) if number else args.positive  # as YAML reads it
    data: dict[str, Any]
    if args.data_csv is not None:
        path, root = _table_location(args.data_csv, root)
        data = {"source": "csv", "csv": {"path": path, **columns}}
    else:
        kaggle = {"dataset": args.kaggle_dataset, "file": args.kaggle_file, **columns}
        if args.kaggle_version is not None:
            kaggle["version"] = args.kaggle_version
        fallback = "none" if args.no_fallback else "synthetic"  # the old script fell back
        data = {"source": "kaggle", "kaggle": kaggle, "fallback": fallback}
    if args.num_samples is not None:
        data["samples"] = args.num_samples
    return data, root


def _feature_names(listed: str) -> list[str]:
    """``--features a, b,c`` -> ``[a, b, c]``, spaces around names dropped as in ``[a, b]``."""
    return [name.strip() for name in listed.split(",")]


def _table_location(typed: str, cwd: Path) -> tuple[str, Path]:
    """``--data-csv``'s path for the spec and the root it is relative to."""
    resolved = (cwd / typed).resolve()
    if resolved.is_relative_to(cwd.resolve()):
        return typed, cwd
    return resolved.name, resolved.parent


def _refuse_stray_data_flags(args: argparse.Namespace) -> None:
    """Data flags that mean nothing without their source, or a source without what it needs:
    said at once rather than ignored."""
    problems: list[tuple[str, str]] = []
    table = args.data_csv is not None or args.kaggle_dataset is not None
    if args.data_csv is not None and args.label is None:
        problems.append(("--label", "required with --data-csv"))
    if args.kaggle_dataset is not None and args.kaggle_file is None:
        problems.append(("--kaggle-file", "required with --kaggle-dataset"))
    if args.kaggle_dataset is None:
        for flag, value in (
            ("--kaggle-file", args.kaggle_file),
            ("--kaggle-version", args.kaggle_version),
            ("--no-fallback", args.no_fallback or None),
        ):
            if value is not None:
                problems.append((flag, "only with --kaggle-dataset"))
    if args.features is not None and "" in _feature_names(args.features):
        problems.append(("--features", "an empty column name; separate names by single commas"))
    if not table:
        for flag, value in (
            ("--label", args.label),
            ("--features", args.features),
            ("--positive", args.positive),
        ):
            if value is not None:
                problems.append((flag, "only with --data-csv or --kaggle-dataset"))
    if problems:
        raise SpecError([Problem(COMMAND_LINE, Mark(1, 1), f, m) for f, m in problems])


def flag_problem(problem: Problem, args: argparse.Namespace) -> str:
    """A problem of a flag-built spec told by the flag and value it came from (``--label
    targt: ...``) rather than by a spec key the user never wrote."""
    key, index = problem.key, None
    indexed = _INDEXED_KEY.fullmatch(key)
    if key not in FLAG_OF_KEY and indexed is not None:
        key, index = indexed["key"], int(indexed["index"])
    flag = FLAG_OF_KEY.get(key, key)
    if not flag:
        return problem.message
    value = getattr(args, flag.removeprefix("--").replace("-", "_"), None)
    if flag == "--features" and isinstance(value, str) and index is not None:
        listed = _feature_names(value)
        value = listed[index] if index < len(listed) else None
    shown = None if isinstance(value, bool) or value is None else printable(clip(str(value), 200))
    if shown is None or problem.message.startswith(f"{shown}: "):  # a data file's own problem
        return f"{flag}: {problem.message}"
    return f"{flag} {shown}: {problem.message}"
