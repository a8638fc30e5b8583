"""``nethical-runner``: the old script's command line, plus spec validation and the schema.

``train`` accepts every flag of ``train_any_model.py`` with the same defaults and builds an
in-memory spec from them, so the command line and ``pytest specs/`` run the same pipeline. Its
data flags (``--data-csv``, ``--kaggle-dataset`` and their companions) become the spec's
``data`` section, so a CSV named on the command line gets every check a spec's CSV gets, and
each problem is told by the flag it came from.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import sys
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from nethical_runner import __version__
from nethical_runner._escape import clip, printable, terminal
from nethical_runner._words import counted
from nethical_runner.checks.baseline import Baseline, BaselineError, load_baseline
from nethical_runner.checks.collect import Judged, collect_checks, judge_all
from nethical_runner.cli.audit import add_audit_parser, run_audit_command
from nethical_runner.cli.comment import add_comment_parser, run_comment
from nethical_runner.cli.diff import add_diff_parser, run_diff
from nethical_runner.cli.progress import stderr_progress
from nethical_runner.data import shown_path
from nethical_runner.drift.baseline import accepted_reason
from nethical_runner.drift.report import summary_lines as drift_summary_lines
from nethical_runner.models import SCRIPT_TYPES
from nethical_runner.models.sklearn_estimator import DEFAULT_ALLOWED_PREFIXES
from nethical_runner.report.outputs import publish, summary_lines
from nethical_runner.report.records import run_records
from nethical_runner.report.run_report import RunReport
from nethical_runner.run.executors import IN_PROCESS, Executor
from nethical_runner.run.loading import build_spec, load_spec
from nethical_runner.run.options import DEFAULT_OUT_DIR, RUN_OPTIONS, executor_from
from nethical_runner.run.pipeline import finish_as_ready, submit_spec
from nethical_runner.run.results import CohortFailure, SpecResult
from nethical_runner.run.settings import RunSettings, default_cache_dir
from nethical_runner.sla.report import summary_lines as sla_summary_lines
from nethical_runner.spec import Spec, SpecError
from nethical_runner.spec.config import DataConfig
from nethical_runner.spec.jsonschema import SCHEMA_PATH, schema_text, write_schema
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
EXIT_OK, EXIT_CHECK_FAILED, EXIT_ERROR = 0, 1, 2
DRIFT_GROUP = "train"  # every `train --enable-drift-tracking` run into one folder accumulates


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="nethical-runner", description="Train models declared in specs and gate them."
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    train = commands.add_parser("train", help="train from seed-compatible flags")
    train.add_argument(
        "--model-type",
        required=True,
        choices=[*SCRIPT_TYPES, "all"],
        help="model type to train, or all of them",
    )
    train.add_argument("--epochs", type=int, default=10, help="training epochs (default: 10)")
    train.add_argument("--batch-size", type=int, default=32, help="batch size (default: 32)")
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
    _add_run_options(
        train,
        strict_help="exit 1 when a check fails (a missed promotion gate, an SLA breach, drift); "
        "without it a missed gate exits 0, as the old script did",
    )

    run = commands.add_parser("run", help="train spec files without pytest")
    run.add_argument("specs", nargs="+", type=Path, metavar="SPEC")
    _add_prefix_option(run)
    _add_run_options(
        run,
        strict_help="accepted for older command lines: run always exits 1 when a check fails",
    )

    validate = commands.add_parser("validate", help="check spec files without training")
    validate.add_argument(
        "specs", nargs="+", type=Path, metavar="SPEC", help="a spec file, or a folder of them"
    )
    _add_prefix_option(validate)

    schema = commands.add_parser("schema", help="print the JSON Schema of spec files")
    schema.add_argument(
        "--write",
        nargs="?",
        const=SCHEMA_PATH,
        type=Path,
        metavar="PATH",
        help="write it to PATH instead (default: the copy shipped in the package)",
    )
    add_diff_parser(commands)
    add_comment_parser(commands)
    add_audit_parser(commands)
    return parser


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


def _add_prefix_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--allow-estimator-prefix",
        action="append",
        default=[],
        metavar="PREFIX",
        help="also allow `type: sklearn` estimators from this module prefix (sklearn. always)",
    )


def _prefixes(args: argparse.Namespace) -> tuple[str, ...]:
    return (*DEFAULT_ALLOWED_PREFIXES, *args.allow_estimator_prefix)


def _add_run_options(parser: argparse.ArgumentParser, *, strict_help: str) -> None:
    for option in RUN_OPTIONS:
        parser.add_argument(
            f"--{option.name}",
            type=option.parse,
            metavar=option.metavar,
            choices=option.choices,
            help=option.help,
        )
    parser.add_argument("--strict", action="store_true", help=strict_help)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "schema":
        if args.write:
            print(f"schema written to {write_schema(args.write)}")
        else:
            sys.stdout.write(schema_text())
        return EXIT_OK
    if args.command == "diff":
        return run_diff(args)
    if args.command == "comment":
        return run_comment(args)
    if args.command == "validate":
        return _validate(_spec_files(args.specs), _prefixes(args))
    if args.command == "audit":
        return run_audit_command(args)
    try:
        executor = executor_from(args.dask, args.dask_retries, "--")
    except ValueError as error:
        print(terminal(f"error: {error}"), file=sys.stderr)
        return EXIT_ERROR
    executor.start()  # a cluster starts while the specs are read
    try:
        return _train_and_judge(args, executor)
    finally:  # Ctrl-C included: outstanding tasks are cancelled, a local cluster stopped
        executor.close()


def _train_and_judge(args: argparse.Namespace, executor: Executor) -> int:
    """``train`` and ``run``: the specs, trained on ``executor`` and judged; the exit code."""
    if args.command == "train":
        try:
            specs = [_spec_from_flags(args, model_type) for model_type in _model_types(args)]
        except SpecError as error:
            for problem in error.problems:
                print(terminal(f"error: {flag_problem(problem, args)}"), file=sys.stderr)
            return EXIT_ERROR
    else:
        try:
            specs = [load_spec(path, _prefixes(args)) for path in args.specs]
        except SpecError as error:
            print(error, file=sys.stderr)
            return EXIT_ERROR
    if args.baseline_missing is not None and args.baseline is None:
        print("error: --baseline-missing is for a run with --baseline PATH", file=sys.stderr)
        return EXIT_ERROR
    try:
        missing = args.baseline_missing or "error"
        baseline = load_baseline(args.baseline, missing) if args.baseline else None
    except BaselineError as error:
        print(terminal(f"error: --baseline: {error}"), file=sys.stderr)
        return EXIT_ERROR
    try:
        accept = accepted_reason(args.accept_baseline)
    except ValueError as error:
        print(f"error: --accept-baseline: {error}", file=sys.stderr)
        return EXIT_ERROR
    judged = _run(specs, _settings(args, accept), baseline, executor)
    outcomes = [entry.outcome for entry in judged]
    if any(outcome.unjudged for outcome in outcomes):
        return EXIT_ERROR
    failed = any(outcome.failed for outcome in outcomes)
    strict = args.strict or args.command == "run"
    return EXIT_CHECK_FAILED if failed and strict else EXIT_OK


def _settings(args: argparse.Namespace, accept_baseline: str | None) -> RunSettings:
    sla_dir = getattr(args, "sla_report_dir", None)
    audit_dir = getattr(args, "audit_path", None)
    drift_dir = getattr(args, "drift_report_dir", None)
    cache_dir = args.cache_dir.resolve() if args.cache_dir else default_cache_dir()
    return RunSettings(
        (args.out or Path(DEFAULT_OUT_DIR)).resolve(),
        cache_dir=cache_dir,
        champion_dir=args.champion.resolve() if args.champion else None,
        sla_dir=sla_dir.resolve() if sla_dir else None,
        audit_dir=audit_dir.resolve() if audit_dir else None,
        drift_dir=drift_dir.resolve() if drift_dir else None,
        accept_baseline=accept_baseline,
    )


def _run(
    specs: list[Spec], settings: RunSettings, baseline: Baseline | None, executor: Executor
) -> list[Judged]:
    """Train and judge every spec, print each as it finishes, then write the run summary
    (results.json, summary.md) exactly as a pytest session does. On a cluster every spec is
    submitted first, so all of them train side by side."""
    report = RunReport()
    judged: list[Judged] = []
    if executor is not IN_PROCESS:
        print(terminal(f"training on {executor.description}"))
    watcher, progress = stderr_progress()  # a line per cohort as it starts and ends
    submitted = [submit_spec(spec, settings, executor, watcher) for spec in specs]
    try:
        for result in finish_as_ready(submitted):
            spec = result.spec
            entries = judge_all(result, collect_checks(spec, baseline))
            print_result(result, entries)
            shown = spec.path.as_posix()
            for record in run_records(
                spec, result, entries, shown_path=shown, out_dir=settings.out_dir
            ):
                report.add(record)
            judged += entries
    finally:
        progress.close()
    written = publish(report, settings.out_dir, settings.run_id)
    for line, is_error in summary_lines(report, written, invocation_dir=Path.cwd()):
        print(line, file=sys.stderr if is_error else sys.stdout)
    return judged


def _spec_files(paths: list[Path]) -> list[Path]:
    """Each folder named on the command line stands for the YAML files below it, as it does
    for ``pytest specs/``, so ``validate specs/`` checks what a pytest run would collect. A
    folder without any is kept as it is, so the loader names it instead of passing silently."""
    files: list[Path] = []
    for path in paths:
        found = (
            sorted(p for p in path.rglob("*") if p.suffix in (".yaml", ".yml") and p.is_file())
            if path.is_dir()
            else []
        )
        files += found or [path]
    return files


def _validate(paths: list[Path], prefixes: tuple[str, ...]) -> int:
    failed = False
    for path in paths:
        try:
            spec = load_spec(path, prefixes)
        except SpecError as error:
            print(error, file=sys.stderr)
            failed = True
            continue
        checks = len(collect_checks(spec))
        counts = f"{counted(len(spec.cohorts), 'cohort')}, {counted(checks, 'check')}"
        print(terminal(f"{path}: ok ({counts})"))
    return EXIT_ERROR if failed else EXIT_OK


def _model_types(args: argparse.Namespace) -> list[str]:
    return list(SCRIPT_TYPES) if args.model_type == "all" else [args.model_type]


def _spec_from_flags(args: argparse.Namespace, model_type: str) -> Spec:
    """The spec the old script's flags describe, validated exactly like a spec file."""
    cohort_id = args.cohort_id or f"{model_type}_{datetime.now():%Y%m%d_%H%M%S}"
    data, root = _data_from_flags(args)
    model: dict[str, Any] = {"type": model_type}
    if data["source"] != "synthetic" and model_type in TABLE_MODEL_PARAMS:
        model["params"] = TABLE_MODEL_PARAMS[model_type]
    raw: dict[str, Any] = {
        "version": 1,
        "name": model_type,
        "model": model,
        "training": {"epochs": args.epochs, "batch_size": args.batch_size, "seed": args.seed},
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


def print_result(result: SpecResult, judged: list[Judged]) -> None:
    """What each spec did, line by line; every line escaped for the terminal, as names, data
    descriptions and messages may quote a spec or a data file."""
    for line in result_lines(result, judged):
        print(terminal(line))
    for line in attention_lines(result):
        print(terminal(line), file=sys.stderr)


def attention_lines(result: SpecResult) -> list[str]:
    """What must not get lost in the results on stdout, for stderr: a cohort that could not
    train, and one that trained on synthetic rows because its data could not be had (which
    then passes and fails like any other)."""
    lines = []
    for cohort in result.cohorts.values():
        where = f"{result.spec.name} / {cohort.cohort_id}"
        if isinstance(cohort, CohortFailure):
            lines.append(f"error: {where}: training failed: {cohort.reason}")
        elif cohort.dataset.fallback_reason is not None:
            declared = _declared_data(result.spec.cohort(cohort.cohort_id).config.data)
            lines.append(
                f"warning: {where}: {declared} is unavailable ({cohort.dataset.fallback_reason}); "
                "trained and judged on synthetic data instead, so these metrics say nothing "
                "about it"
            )
    return lines


def _declared_data(data: DataConfig) -> str:
    if data.kaggle is not None:
        return f"the Kaggle dataset {data.kaggle.dataset}"
    if data.csv is not None:
        return f"the CSV file {shown_path(data.csv.path)}"
    return f"the {data.source} data"


def result_lines(result: SpecResult, judged: list[Judged]) -> list[str]:
    lines = []
    for cohort in result.cohorts.values():
        lines.append(f"== {result.spec.name} / {cohort.cohort_id}")
        if isinstance(cohort, CohortFailure):
            lines.append(f"  training failed: {cohort.reason}")
            continue
        lines.append(f"  data: {cohort.dataset.label}: {cohort.dataset.description}")
        lines.append(
            f"  rows: {cohort.split.train_rows} train, {cohort.metrics['samples']} validation"
        )
        for name in ("accuracy", "precision", "recall", "f1", "auc", "brier", "ece"):
            value = cohort.metrics[name]
            lines.append(f"  {name}: {'n/a' if value is None else f'{value:.4f}'}")
        lines.append(f"  promotion: {'PASS' if cohort.promoted else 'FAIL'}")
        lines.append(f"  model saved to {cohort.model_path}")
        lines.append(f"  metrics saved to {cohort.metrics_path}")
        if cohort.sla is not None:
            lines += sla_summary_lines(cohort.sla)
    if result.audit is not None:
        lines.append(f"== {result.spec.name}: {result.audit.describe()}")
    if result.drift is not None:
        lines.append(f"== {result.spec.name} / drift")
        lines += drift_summary_lines(result.drift)
    lines.append(f"== {result.spec.name}: checks")
    for entry in judged:
        scope = f"{entry.check.cohort_id} " if entry.check.cohort_id else ""
        outcome = entry.outcome
        word = outcome.item_outcome
        decided = f" ({outcome.decision.value})" if outcome.decision.value not in word else ""
        first_line = outcome.message.splitlines()[0] if outcome.message else ""
        state = word.upper() if outcome.failed else word
        lines += [f"  {scope}{entry.check.label}: {state}{decided}", f"    {first_line}"]
    return lines


if __name__ == "__main__":
    sys.exit(main())
