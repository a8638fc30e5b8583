"""pytest collectors and items for spec files.

``specs/x.yaml`` -> spec ``x`` -> cohort ``alpha`` -> item ``gate[accuracy]``, so the node id
reads ``specs/x.yaml::x::alpha::gate[accuracy]``. Collection only validates the spec; training
happens when the first item of a spec runs.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest

from nethical_runner._escape import terminal, terminal_lines
from nethical_runner.checks.baseline import Baseline
from nethical_runner.checks.check import Check
from nethical_runner.checks.collect import collect_checks
from nethical_runner.checks.outcome import Outcome
from nethical_runner.pytest_plugin.compat import item_nodeid
from nethical_runner.pytest_plugin.session import TrainingSession
from nethical_runner.run.loading import load_spec
from nethical_runner.run.results import CohortResult, SpecResult
from nethical_runner.spec import Spec, SpecError
from nethical_runner.spec.yaml_source import KeyPath, Problem, format_key

SESSION_KEY = pytest.StashKey[TrainingSession]()
SPEC_NAMES_KEY = pytest.StashKey[dict[str, str]]()
BASELINE_KEY = pytest.StashKey[Baseline | None]()


class CheckFailed(Exception):
    """A threshold was missed; the message says by how much and where it is written."""


class NethicalWarning(UserWarning):
    """A check passed inside its warning band, or on data other than declared."""


class SpecWarning(UserWarning):
    """A valid spec key that changes nothing, such as ``epochs`` for a model fitted in one call."""


class SpecFile(pytest.File):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.problems: list[Problem] = []  # why the file is not a valid spec, as data

    def collect(self) -> Iterable[pytest.Item | pytest.Collector]:
        """A bad spec is a collection error that lists its problems, without a traceback;
        the problems are also kept as data, for the run summary."""
        try:
            spec = self._load()
        except SpecError as error:
            self.problems = error.problems
            raise self.CollectError(str(error)) from error
        for warning in spec.warnings:  # pytest lists them in its warnings summary
            warnings.warn_explicit(
                SpecWarning(str(warning)), SpecWarning, str(warning.path), warning.mark.line
            )
        yield SpecNode.from_parent(self, name=spec.name, spec=spec)

    def _load(self) -> Spec:
        prefixes = tuple(self.config.getini("nethical_estimator_prefixes"))
        spec = load_spec(_shown_path(self.path, self.config), prefixes, self.config.rootpath)
        names = self.config.stash.setdefault(SPEC_NAMES_KEY, {})
        owner = names.setdefault(spec.name, str(self.path))
        if owner != str(self.path):
            raise SpecError([_name_clash(spec, owner)])
        return spec


def _shown_path(path: Path, config: pytest.Config) -> Path:
    """``specs/x.yaml`` rather than an absolute path, in every message, when under the cwd."""
    try:
        return path.relative_to(config.invocation_params.dir)
    except ValueError:
        return path


def _name_clash(spec: Spec, owner: str) -> Problem:
    return Problem(
        spec.path, spec.mark_of(("name",)), "name", f"{spec.name!r} is already used by {owner}"
    )


class SpecNode(pytest.Collector):
    def __init__(self, *, spec: Spec, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.spec = spec

    def collect(self) -> Iterable[pytest.Item | pytest.Collector]:
        baseline = self.config.stash.get(BASELINE_KEY, None)
        checks = collect_checks(self.spec, baseline)
        for cohort in self.spec.cohorts:
            mine = [c for c in checks if c.cohort_id == cohort.id]
            if mine:
                yield CohortNode.from_parent(self, name=cohort.id, spec=self.spec, checks=mine)
        for check in checks:
            if check.cohort_id is None:
                yield CheckItem.for_check(self, self.spec, check)


class CohortNode(pytest.Collector):
    def __init__(self, *, spec: Spec, checks: list[Check], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.spec = spec
        self.checks = checks

    def collect(self) -> Iterable[pytest.Item]:
        for check in self.checks:
            yield CheckItem.for_check(self, self.spec, check)


class CheckItem(pytest.Item):
    def __init__(self, *, spec: Spec, check: Check, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.spec = spec
        self.check = check
        self.spec_result: SpecResult | None = None  # what the check was judged on, for reports
        self.outcome: Outcome | None = None
        self.add_marker(pytest.mark.nethical(kind=check.kind))

    @classmethod
    def for_check(cls, parent: pytest.Collector, spec: Spec, check: Check) -> CheckItem:
        """An item named ``kind[name]``, with its id given as a string so that it compares
        equal to the ids ``--lf`` reads back from the cache (see :mod:`.compat`)."""
        nodeid = item_nodeid(parent, check.label)
        return cls.from_parent(parent, name=check.label, nodeid=nodeid, spec=spec, check=check)

    def runtest(self) -> None:
        self.spec_result = result = self.config.stash[SESSION_KEY].result(self.spec)
        self.outcome = outcome = self.check.judge(result)
        for name, value in outcome.properties.items():
            self.user_properties.append((name, value))
        self.user_properties.append(("decision", outcome.decision.value))
        if outcome.interval is not None:  # the evidence, in the JUnit file too
            for name, value in outcome.interval.record().items():
                self.user_properties.append((f"interval_{name}", value))
        # pytest prints these: escaped, so no value in them can start a line (or a command)
        if outcome.skipped:  # reported at the threshold's line: see item_reports
            pytest.skip(terminal_lines(outcome.message))
        if outcome.failed:
            raise CheckFailed(outcome.message)
        if outcome.warning:
            # Located in the spec, as a failure is: the data's line for a pass on fallback
            # data, the threshold's otherwise (not this module's, which no user can change)
            mark = self.spec.document.key_mark_of(self._warning_key(result))
            warning = NethicalWarning(terminal_lines(outcome.warning))
            warnings.warn_explicit(warning, NethicalWarning, str(self.spec.path), mark.line)

    def _warning_key(self, result: SpecResult) -> KeyPath:
        """The data section of a cohort that trained on synthetic fallback rows, where the
        unavailable data is declared (in the cohort's override when it declares it); else
        the threshold."""
        cohort_id = self.check.cohort_id
        trained = result.cohorts.get(cohort_id) if cohort_id else None
        if not isinstance(trained, CohortResult) or trained.dataset.fallback_reason is None:
            return self.check.key
        cohort = self.spec.cohort(trained.cohort_id)
        key: KeyPath = ("data", cohort.config.data.source)
        written = (*cohort.origin, *key)
        return written if cohort.origin and written in self.spec.document.marks else key

    def failure_message(self, error: CheckFailed) -> str:
        """What a missed threshold or a failed training reads as: no traceback, the message
        and where the threshold is written, each escaped for the terminal."""
        mark = self.spec.mark_of(self.check.key)
        key = format_key(self.check.key)
        where = f"{self.spec.path}:{mark.line}:{mark.column}" + (f" ({key})" if key else "")
        return f"{terminal_lines(str(error))}\n  threshold at {terminal(where)}"

    def reportinfo(self) -> tuple[Any, int | None, str]:
        """Located at the threshold's line, so editors and CI annotations jump to it."""
        scope = [self.spec.name, self.check.cohort_id or ""]
        domain = "::".join(part for part in (*scope, self.check.label) if part)
        return self.path, self.spec.mark_of(self.check.key).line - 1, domain
