"""Fixtures for hand-written tests next to the generated items.

They read the same session cache as the items, so a test that inspects a spec's result does
not train it a second time.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from nethical_runner.audit.trail import AuditTrail
from nethical_runner.items import SESSION_KEY
from nethical_runner.pipeline import SpecResult
from nethical_runner.spec import load_spec


@pytest.fixture(scope="session")
def training_result(pytestconfig: pytest.Config) -> Callable[[str | Path], SpecResult]:
    """``training_result("specs/logistic.yaml")`` -> the spec's :class:`SpecResult`."""
    session = pytestconfig.stash[SESSION_KEY]

    def result_of(spec_path: str | Path) -> SpecResult:
        return session.result(load_spec(Path(spec_path)))

    return result_of


@pytest.fixture(scope="session")
def audit_log(pytestconfig: pytest.Config) -> Callable[[str | Path], AuditTrail]:
    """``audit_log("specs/logistic.yaml")`` -> the :class:`AuditTrail` of that spec's run in
    this session: its ``events()``, ``verify()`` of the whole log, ``prove(index)``."""
    session = pytestconfig.stash[SESSION_KEY]

    def trail_of(spec_path: str | Path) -> AuditTrail:
        return AuditTrail.of(session.result(load_spec(Path(spec_path))))

    return trail_of
