"""Output file names built from spec names, cohort ids, model types and run ids, in one place.

Names may hold ``_``, ``.`` and ``-`` (``NAME_PATTERN``, the pattern of spec names and cohort
ids), so names joined by any of those are ambiguous: spec ``fraud__prod`` with cohort ``v2``
and spec ``fraud`` with cohort ``prod__v2`` once wrote the same model, metrics, pointer,
diagram and summary files, and a spec could replace another's ``.latest.json``. Here every
part is joined with ``SEPARATOR``, ``@``, which no part may hold, so each file name has exactly
one way to be read back into its parts: two different (spec, cohort) pairs never share a path.

``@`` is allowed in file names on Linux, macOS and Windows, may stand in a URL path without
percent-encoding (the summary links its diagrams), and is special to no POSIX shell in the
middle of a word; a name never starts with it. Every part is followed by more of the file name,
so Windows' dropping of a trailing dot cannot merge ``x.`` with ``x``.
"""

from __future__ import annotations

import re

# The pattern of spec names and cohort ids; spec.config validates specs with the same one.
NAME_PATTERN = r"^[a-z0-9][a-z0-9_.-]*$"
NAME_MAX = 64
SEPARATOR = "@"
# Run ids: new_run_id's UTC time and random hex (``20250101T120000Z-0a1b2c3d``). No ``_``, so
# ``_model_<run>`` ends a model file's name unambiguously whatever the model type.
RUN_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9.-]*$"
RUN_MAX = 64


def _name(value: str, what: str) -> str:
    if len(value) > NAME_MAX or not re.fullmatch(NAME_PATTERN, value):
        raise ValueError(f"{what} {value!r} cannot name an output file (not {NAME_PATTERN})")
    return value


def _run(run_id: str) -> str:
    if len(run_id) > RUN_MAX or not re.fullmatch(RUN_PATTERN, run_id):
        raise ValueError(f"run id {run_id!r} cannot name an output file (not {RUN_PATTERN})")
    return run_id


def pair_stem(spec: str, cohort: str) -> str:
    """``<spec>@<cohort>``: the start of every file of one cohort of one spec."""
    return f"{_name(spec, 'spec name')}{SEPARATOR}{_name(cohort, 'cohort id')}"


def model_file(spec: str, cohort: str, model_type: str, run_id: str) -> str:
    """``<spec>@<cohort>@<type>_model_<run>.npz``, in ``models/current`` or ``candidates``."""
    return f"{_typed_stem(spec, cohort, model_type)}_model_{_run(run_id)}.npz"


def metrics_file(spec: str, cohort: str, model_type: str, run_id: str) -> str:
    """``<spec>@<cohort>@<type>_metrics_<run>.json``, beside its model."""
    return f"{_typed_stem(spec, cohort, model_type)}_metrics_{_run(run_id)}.json"


def _typed_stem(spec: str, cohort: str, model_type: str) -> str:
    return f"{pair_stem(spec, cohort)}{SEPARATOR}{_name(model_type, 'model type')}"


def pointer_file(spec: str, cohort: str) -> str:
    """``<spec>@<cohort>.latest.json``: the newest promoted model of the pair. One ``@``, where
    a metrics file has two, so no pointer is ever a metrics file."""
    return f"{pair_stem(spec, cohort)}.latest.json"


def diagram_file(spec: str, cohort: str) -> str:
    """``<spec>@<cohort>.png``, in ``reliability/``."""
    return f"{pair_stem(spec, cohort)}.png"


def sla_report_file(spec: str, cohort: str, run_id: str) -> str:
    """``sla_report_<spec>@<cohort>@<run>.json``."""
    return f"sla_report_{pair_stem(spec, cohort)}{SEPARATOR}{_run(run_id)}.json"


def sla_documentation_file(spec: str, cohort: str, run_id: str) -> str:
    """``sla_documentation_<spec>@<cohort>@<run>.md``."""
    return f"sla_documentation_{pair_stem(spec, cohort)}{SEPARATOR}{_run(run_id)}.md"


def training_summary_file(spec: str, cohort: str, run_id: str) -> str:
    """``training_summary_<spec>@<cohort>@<run>.json``, in the audit folder's ``summaries/``."""
    return f"training_summary_{pair_stem(spec, cohort)}{SEPARATOR}{_run(run_id)}.json"


def drift_report_id(spec: str, run_id: str) -> str:
    """``drift_<spec>@<run>``: a drift report covers every cohort of a spec; its file is
    ``<id>.json``."""
    return f"drift_{_name(spec, 'spec name')}{SEPARATOR}{_run(run_id)}"
