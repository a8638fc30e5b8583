"""``nethical-runner``: ``train`` (the old script's flags, :mod:`.train`), ``run`` and
``validate`` for spec files, the schema, and the ``diff``, ``comment`` and ``audit`` commands.

``train`` and ``run`` go through the same pipeline and the same checks as ``pytest specs/``;
this module only reads arguments, prints what came out and picks the exit code.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from nethical_runner import __version__
from nethical_runner._escape import terminal
from nethical_runner._words import counted
from nethical_runner.checks.baseline import Baseline, BaselineError, load_baseline
from nethical_runner.checks.collect import Judged, collect_checks, judge_all
from nethical_runner.cli.audit import add_audit_parser, run_audit_command
from nethical_runner.cli.comment import add_comment_parser, run_comment
from nethical_runner.cli.diff import add_diff_parser, run_diff
from nethical_runner.cli.progress import stderr_progress
from nethical_runner.cli.train import add_train_parser, flag_problem, specs_from_flags
from nethical_runner.data import shown_path
from nethical_runner.drift.baseline import accepted_reason
from nethical_runner.drift.report import summary_lines as drift_summary_lines
from nethical_runner.models.sklearn_estimator import DEFAULT_ALLOWED_PREFIXES
from nethical_runner.report.outputs import publish, summary_lines
from nethical_runner.report.records import run_records
from nethical_runner.report.run_report import RunReport
from nethical_runner.run.executors import IN_PROCESS, Executor
from nethical_runner.run.loading import load_spec
from nethical_runner.run.options import DEFAULT_OUT_DIR, RUN_OPTIONS, executor_from
from nethical_runner.run.pipeline import finish_as_ready, submit_spec
from nethical_runner.run.results import CohortFailure, SpecResult
from nethical_runner.run.settings import RunSettings, default_cache_dir
from nethical_runner.sla.report import summary_lines as sla_summary_lines
from nethical_runner.spec import Spec, SpecError
from nethical_runner.spec.config import DataConfig
from nethical_runner.spec.jsonschema import SCHEMA_PATH, schema_text, write_schema

EXIT_OK, EXIT_CHECK_FAILED, EXIT_ERROR = 0, 1, 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="nethical-runner", description="Train models declared in specs and gate them."
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    train = add_train_parser(commands)
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
            specs = specs_from_flags(args)
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
    for spec in specs:
        print_warnings(spec, args if args.command == "train" else None)
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
        print_warnings(spec)
        checks = len(collect_checks(spec))
        counts = f"{counted(len(spec.cohorts), 'cohort')}, {counted(checks, 'check')}"
        print(terminal(f"{path}: ok ({counts})"))
    return EXIT_ERROR if failed else EXIT_OK


def print_warnings(spec: Spec, args: argparse.Namespace | None = None) -> None:
    """A spec's valid keys that change nothing, on standard error; for a spec built from the
    ``train`` command's ``args``, told by the flags they came from."""
    for warning in spec.warnings:
        shown = flag_problem(warning, args) if args is not None else str(warning)
        print(terminal(f"warning: {shown}"), file=sys.stderr)


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
