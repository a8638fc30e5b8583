"""One markdown body for a pull-request comment: failing checks, metric deltas, spec changes.

CI posts it once and then edits the same comment on every push: the body starts with
:data:`MARKER`, a hidden HTML comment a workflow looks for among the bot's own comments.

Everything shown comes from files a pull request controls (spec names, cohort ids, messages
that quote them, results.json itself), and a comment is rendered with more powers than a step
summary: ``@org/team`` notifies a team, ``owner/repo#1`` writes into another repository's
timeline, a bare URL becomes a link, and a second marker would make another comment look like
ours. So every fragment is escaped as literal markdown (:mod:`nethical_runner._escape`), the
whole body is made inert (:func:`~nethical_runner._escape.github_inert`, code spans included),
every number read from a file is checked to be one, and the body is cut below GitHub's limit of
65536 characters with a note saying so.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from nethical_runner._escape import clip, github_inert, markdown, markdown_code
from nethical_runner.checks.baseline import Baseline
from nethical_runner.report.specdiff.render import markdown as spec_diff_markdown
from nethical_runner.report.specdiff.revisions import SpecDiff

MARKER = "<!-- nethical-runner -->"
MAX_BODY_BYTES = 65_000  # GitHub refuses a comment over 65536 characters; bytes bound both
SHOWN_CHANGE = 5e-5  # a change that shows at 4 decimals
MESSAGE_LIMIT = 300  # characters of a check's message in a table cell
METRICS = ("accuracy", "precision", "recall", "f1", "auc", "brier", "ece")
LOWER_IS_BETTER = ("brier", "ece")


class CommentError(Exception):
    """A results file the comment cannot be made from."""


@dataclass(frozen=True)
class CheckLine:
    label: str  # spec::cohort::check
    decision: str
    outcome: str
    message: str
    where: str  # file:line of the threshold


def text(value: Any, limit: int = MESSAGE_LIMIT) -> str:
    """Literal text for a table cell (made inert with the whole body)."""
    return markdown(clip(" ".join(str(value).split()), limit)).replace("|", "\\|")


def code(value: Any) -> str:
    """A code span for a table cell (made inert with the whole body)."""
    return markdown_code(clip(str(value), 200)).replace("|", "\\|")


def require_shape(document: Any) -> None:
    """CommentError unless ``document`` has the nesting of a results.json: specs holding
    cohorts, both holding checks, every one a mapping."""
    specs = document.get("specs") if isinstance(document, dict) else None
    if not isinstance(specs, list) or not all(isinstance(spec, dict) for spec in specs):
        raise CommentError("malformed results: 'specs' is not a list of specs")
    for spec in specs:
        cohorts = spec.get("cohorts")
        if not isinstance(cohorts, list) or not all(isinstance(c, dict) for c in cohorts):
            raise CommentError("malformed results: a spec's 'cohorts' is not a list of cohorts")
        for scope in (*cohorts, spec):
            found = scope.get("checks")
            if not isinstance(found, list) or not all(isinstance(c, dict) for c in found):
                raise CommentError("malformed results: 'checks' is not a list of checks")


def checks_of(document: Mapping[str, Any]) -> list[CheckLine]:
    """Every check record of a results document, cohorts' and specs' alike; CommentError
    when the document is not shaped like one."""
    require_shape(document)
    found = []
    try:
        for spec in document["specs"]:
            for scope in (*spec["cohorts"], spec):
                for check in scope["checks"]:
                    label = "::".join(
                        str(part)
                        for part in (check["spec"], check["cohort"], check["check"])
                        if part
                    )
                    found.append(
                        CheckLine(
                            label,
                            str(check["decision"]),
                            str(check["outcome"]),
                            str(check["message"]),
                            f"{check['file']}:{check['line']}",
                        )
                    )
    except (KeyError, TypeError) as error:
        raise CommentError(f"malformed results ({error!r} missing or wrong)") from None
    return found


def metrics_of(document: Mapping[str, Any]) -> dict[tuple[str, str], dict[str, float]]:
    """Each trained cohort's metrics that are numbers (the file is untrusted)."""
    found = {}
    for spec in document["specs"]:
        for cohort in spec["cohorts"]:
            if cohort.get("training") != "trained":
                continue
            metrics = cohort.get("metrics")
            if isinstance(metrics, dict):
                key = (str(spec.get("name")), str(cohort.get("cohort")))
                found[key] = {m: v for m in METRICS if (v := number(metrics.get(m))) is not None}
    return found


def number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def comment_body(
    document: Mapping[str, Any],
    *,
    baseline: Baseline | None = None,
    spec_diff: SpecDiff | None = None,
) -> str:
    """The comment for the run ``document`` describes (a results.json), against ``baseline``
    when given, with the spec changes of ``spec_diff`` when given; CommentError when the
    document is not shaped like a results.json."""
    checks = checks_of(document)
    failing = [c for c in checks if c.outcome in ("failed", "error")]
    inconclusive = [c for c in checks if c.decision == "inconclusive" and c not in failing]
    passed = sum(1 for c in checks if c.outcome == "passed")
    skipped = sum(1 for c in checks if c.outcome == "skipped")
    verdict = "failed" if failing or document.get("errors") else "passed"
    counts = f"{len(failing)} failed, {passed} passed, {skipped} skipped"
    if inconclusive:
        counts += f", {len(inconclusive)} inconclusive"
    lines = [MARKER, f"## nethical-runner {verdict}: {counts}", ""]
    lines += _check_table("Failing checks", failing)
    lines += _check_table("Inconclusive checks", inconclusive)
    lines += _spec_errors(document.get("errors"))
    current = metrics_of(document)
    if baseline is not None:
        lines += _baseline_deltas(current, baseline)
    lines += _champion_deltas(document)
    if spec_diff is not None:
        lines += [spec_diff_markdown(spec_diff.changes, spec_diff.base_label,
                                     spec_diff.head_label, level=3), ""]  # fmt: skip
    run = text(document.get("run_id"), 60)
    lines += [f"<sub>run {run}; every check in results.json and summary.md</sub>"]
    return bounded("\n".join(inert_lines(lines)) + "\n")


def inert_lines(lines: Iterable[str]) -> Iterable[str]:
    """The spec diff comes rendered by :mod:`~nethical_runner.report.specdiff.render`, which
    escapes for markdown but knows nothing of mentions: made inert here, the marker kept."""
    for line in lines:
        yield line if line == MARKER else github_inert(line)


def _check_table(title: str, checks: Sequence[CheckLine]) -> list[str]:
    if not checks:
        return []
    header = ["check", "decision", "message", "threshold at"]
    rows = [
        [code(check.label), text(check.decision), text(check.message), code(check.where)]
        for check in checks
    ]
    return _table(f"### {title}", header, rows)


def _spec_errors(errors: Any) -> list[str]:
    if not isinstance(errors, list) or not errors:
        return []
    lines = ["### Spec errors", ""]
    for error in errors:
        if isinstance(error, dict):
            where = f"{error.get('file')}:{error.get('line')}"
            lines.append(f"- {code(where)}: {text(error.get('message'))}")
    return [*lines, ""]


def _baseline_deltas(
    current: Mapping[tuple[str, str], Mapping[str, float]], baseline: Baseline
) -> list[str]:
    if baseline.missing is not None:
        return [f"No metric deltas: {text(baseline.missing)}.", ""]
    rows, unchanged = [], 0
    for (spec, cohort), metrics in current.items():
        past = baseline.cohort(spec, cohort)
        if past is None or not past.trained:
            rows.append([code(spec), code(cohort), "-", "-", "-", "new (not in the baseline)"])
            continue
        changed = [
            [code(spec), code(cohort), metric, *_delta(metric, before, after)]
            for metric, after in metrics.items()
            if (before := number(past.metrics.get(metric))) is not None
            and abs(after - before) >= SHOWN_CHANGE
        ]
        rows += changed
        unchanged += not changed
    title = f"### Metrics against the baseline (run {text(baseline.run_id, 60)})"
    header = ["spec", "cohort", "metric", "baseline", "this run", "change"]
    lines = _table(title, header, rows) or [title, ""]
    if unchanged:
        lines += [f"{unchanged} cohort{'s' if unchanged != 1 else ''} with no metric changed.", ""]
    return lines


def _champion_deltas(document: Mapping[str, Any]) -> list[str]:
    """The champions' metrics on this run's validation rows, as the regression checks against
    them recorded (``properties.baseline`` is the champion's value)."""
    rows = []
    for spec in document["specs"]:
        for cohort in spec["cohorts"]:
            for check in cohort["checks"]:
                properties = check.get("properties")
                if not isinstance(properties, dict) or check.get("kind") != "regression":
                    continue
                if "champion_file" not in properties:
                    continue
                before, after = number(properties.get("baseline")), number(properties.get("value"))
                if before is not None and after is not None:
                    metric = str(check.get("name"))
                    cells = _delta(metric, before, after)
                    rows.append([code(spec.get("name")), code(cohort.get("cohort")), text(metric),
                                 *cells])  # fmt: skip
    header = ["spec", "cohort", "metric", "champion", "this run", "change"]
    return _table("### Metrics against the champion", header, rows)


def _delta(metric: str, before: float, after: float) -> list[str]:
    change = after - before
    worse = change > 0 if metric in LOWER_IS_BETTER else change < 0
    shown = f"{change:+.4f}" if abs(change) >= SHOWN_CHANGE else "0"
    marked = f"**{shown}** (worse)" if worse and shown != "0" else shown
    return [f"{before:.4f}", f"{after:.4f}", marked]


def _table(title: str, header: list[str], rows: list[list[str]]) -> list[str]:
    if not rows:
        return []
    lines = [title, "", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return [*lines, ""]


def bounded(body: str, limit: int = MAX_BODY_BYTES) -> str:
    """``body`` whole when it fits in ``limit`` UTF-8 bytes, else cut at a line break with a
    note of how much is left out (a cut line could open a span it never closes)."""
    encoded = body.encode("utf-8")
    if len(encoded) <= limit:
        return body
    note = (
        f"\n\n**Comment cut**: {len(encoded)} bytes is more than a comment holds; the rest is "
        "in results.json and summary.md.\n"
    )
    kept = encoded[: limit - len(note.encode())].decode("utf-8", errors="ignore")
    return kept[: kept.rfind("\n")] + note
