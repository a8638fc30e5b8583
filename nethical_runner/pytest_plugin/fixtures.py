"""Fixtures for hand-written tests next to the generated items.

They read the same session cache as the items, so a test that inspects a spec's result does
not train it a second time.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from nethical_runner.audit.trail import AuditTrail
from nethical_runner.checks.check import cohort_result
from nethical_runner.drift import DriftFailure, DriftResult
from nethical_runner.pytest_plugin.items import SESSION_KEY
from nethical_runner.run.loading import load_spec
from nethical_runner.run.results import SpecResult
from nethical_runner.sla.measure import SlaResult


@pytest.fixture(scope="session")
def training_result(pytestconfig: pytest.Config) -> Callable[[str | Path], SpecResult]:
    """``training_result("specs/logistic.yaml")`` -> the spec's :class:`SpecResult`."""
    session = pytestconfig.stash[SESSION_KEY]

    def result_of(spec_path: str | Path) -> SpecResult:
        prefixes = tuple(pytestconfig.getini("nethical_estimator_prefixes"))
        return session.result(load_spec(Path(spec_path), prefixes, pytestconfig.rootpath))

    return result_of


@pytest.fixture(scope="session")
def sla_report(
    training_result: Callable[[str | Path], SpecResult],
) -> Callable[..., SlaResult]:
    """``sla_report("specs/x.yaml", "alpha")`` -> that cohort's :class:`SlaResult` (the cohort
    may be left out when the spec has only one); ``.report_path`` is its JSON report."""

    def report_of(spec_path: str | Path, cohort: str | None = None) -> SlaResult:
        result = training_result(spec_path)
        if cohort is None:
            if len(result.cohorts) != 1:
                raise ValueError(f"{spec_path} has cohorts {', '.join(result.cohorts)}; name one")
            (cohort,) = result.cohorts
        if cohort not in result.cohorts:
            raise KeyError(f"{spec_path} has no cohort {cohort!r}")
        measured = cohort_result(result, cohort).sla
        if measured is None:
            raise LookupError(f"{spec_path} declares no sla section")
        return measured

    return report_of


@pytest.fixture(scope="session")
def audit_log(
    training_result: Callable[[str | Path], SpecResult],
) -> Callable[[str | Path], AuditTrail]:
    """``audit_log("specs/logistic.yaml")`` -> the :class:`AuditTrail` of that spec's run in
    this session: its ``events()``, ``verify()`` of the whole log, ``prove(index)``."""

    def trail_of(spec_path: str | Path) -> AuditTrail:
        result = training_result(spec_path)
        return AuditTrail.of(result.audit, result.spec.path)

    return trail_of


@pytest.fixture(scope="session")
def drift_report(
    training_result: Callable[[str | Path], SpecResult],
) -> Callable[[str | Path], DriftResult]:
    """``drift_report("specs/x.yaml")`` -> the spec's :class:`DriftResult` for this session:
    ``.comparisons["accuracy"].stats.spread``, ``.has_drift``, ``.report_path`` (its JSON)."""

    def report_of(spec_path: str | Path) -> DriftResult:
        drift = training_result(spec_path).drift
        if drift is None:
            raise LookupError(f"{spec_path} declares neither a drift section nor slices")
        if isinstance(drift, DriftFailure):
            raise RuntimeError(f"drift tracking of {spec_path} failed: {drift.reason}")
        return drift

    return report_of
