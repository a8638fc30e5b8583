"""Loading a spec for a run: the spec layer's validation plus the rules that need the data
layer's knowledge, reported together as one :class:`~nethical_runner.spec.SpecError`.

Every front end loads specs here, so a missing data file, a label the file lacks or a slice on
a column the data cannot have fails at collection, with its line, whichever way the spec is run
(``nethical-runner validate``, pytest's collection, or the command line's flags).
"""

from __future__ import annotations

from pathlib import Path

from nethical_runner.models.sklearn_estimator import DEFAULT_ALLOWED_PREFIXES
from nethical_runner.run.validation import data_problems, slice_column_problems
from nethical_runner.spec import Spec, loader
from nethical_runner.spec.yaml_source import Document

RULES: tuple[loader.SpecRule, ...] = (data_problems, slice_column_problems)
"""What every spec is checked against once it is otherwise valid."""


def load_spec(
    path: Path,
    estimator_prefixes: tuple[str, ...] = DEFAULT_ALLOWED_PREFIXES,
    root: Path | None = None,
) -> Spec:
    """:func:`nethical_runner.spec.load_spec` with the run layer's rules: raises
    :class:`~nethical_runner.spec.SpecError` with every problem of the file."""
    return loader.load_spec(path, estimator_prefixes, root, rules=RULES)


def build_spec(
    path: Path,
    document: Document,
    sha256: str,
    estimator_prefixes: tuple[str, ...] = DEFAULT_ALLOWED_PREFIXES,
    root: Path | None = None,
) -> Spec:
    """:func:`nethical_runner.spec.loader.build_spec` with the same rules, for a spec that no
    file holds (``train`` builds one from its flags)."""
    return loader.build_spec(path, document, sha256, estimator_prefixes, root, rules=RULES)
