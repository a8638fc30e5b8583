"""Compare two versions of a set of spec files key by key.

Specs are compared by what they *mean*, not only by what is written: a section that is left
out stands for its defaults (no ``gate`` section is ``max_ece 0.08, min_accuracy 0.85``; an
``sla`` section without latency targets is the old script's p95/p99/avg), so replacing the default
gate by ``{min_accuracy: 0.8}`` reads as a lowered accuracy bar and a removed ECE check, not as
a new threshold. Values that come from defaults are marked as such. Cohorts are matched by id,
and a spec file that moved but kept its ``name`` is a rename, not a removal plus an addition.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, get_args

from pydantic import BaseModel, ValidationError

from nethical_runner._words import counted
from nethical_runner.checks.collect import collect_checks
from nethical_runner.report.specdiff.rules import (
    ABSENT,
    CHANGED,
    LOOSENED,
    TIGHTENED,
    KeyPath,
    Verdict,
    classify,
    is_threshold,
)
from nethical_runner.sla.measure import SCRIPT_TARGETS_MS, STATISTICS
from nethical_runner.spec import SpecError
from nethical_runner.spec.config import RunConfig, SpecDocument
from nethical_runner.spec.loader import build_spec
from nethical_runner.spec.yaml_source import Document, SpecSyntaxError, read_yaml

SPEC_KEY = "(spec)"
SPEC_VERSION = 1  # the one format version this runner reads
FILE_KEY = "(file)"


@dataclass(frozen=True)
class SpecVersion:
    """One spec file at one revision: its parsed data, or why it could not be read.

    ``not_spec`` marks a file known not to be a spec (a link, a file too large, YAML of some
    other tool): its ``error`` names the file and the reason, and nothing of its content is
    ever shown. ``digest`` tells a changed unreadable file from an unchanged one.
    """

    path: str
    data: dict[str, Any] | None
    error: str | None = None
    checks: int | None = None  # how many test items it collects, when it is valid
    not_spec: bool = False
    digest: str | None = None

    @property
    def name(self) -> str | None:
        name = self.data.get("name") if self.data else None
        return name if isinstance(name, str) else None


def not_a_spec(path: str, reason: str) -> SpecVersion:
    """A file that is not read as a spec; ``reason`` must name it and quote nothing of it."""
    return SpecVersion(path, None, reason, not_spec=True)


def parse_version(path: str, text: str) -> SpecVersion:
    """Read a spec's text with the project's safe reader (never executing anything in it).

    Only a mapping that declares ``version: 1`` and holds nothing but spec sections is a spec
    whose values are compared (and so printed); any other YAML is named with its reason only.
    """
    digest = hashlib.sha256(text.encode()).hexdigest()
    try:
        document = read_yaml(Path(path), text)
    except SpecSyntaxError as error:
        return SpecVersion(path, None, str(error), digest=digest)
    reason = _not_spec_reason(document)
    if reason is not None:
        return replace(not_a_spec(path, f"{path}: {reason}"), digest=digest)
    checks = _check_count(path, document, digest)
    return SpecVersion(path, document.data, checks=checks, digest=digest)


def _not_spec_reason(document: Document) -> str | None:
    data = document.data
    if not isinstance(data, dict):
        return "not a mapping of keys"
    version = data.get("version")
    if type(version) is not int or version != SPEC_VERSION:
        return f"no 'version: {SPEC_VERSION}'"
    strangers = [key for key in data if key not in SpecDocument.model_fields]
    if not strangers:
        return None
    lines = ", ".join(str(document.key_mark_of((key,)).line) for key in strangers)
    if len(strangers) == 1:
        return f"top-level key at line {lines} is no spec section"
    return f"top-level keys at lines {lines} are no spec sections"


def _check_count(path: str, document: Document, digest: str) -> int | None:
    try:
        return len(collect_checks(build_spec(Path(path), document, digest)))
    except SpecError:
        return None


@dataclass(frozen=True)
class Change:
    """One row of a spec diff."""

    spec: str
    key: str
    old: Any
    new: Any
    verdict: Verdict
    note: str = ""
    old_default: bool = False
    new_default: bool = False


def diff_versions(old: Mapping[str, SpecVersion], new: Mapping[str, SpecVersion]) -> list[Change]:
    """Every change between two sets of spec files keyed by path, in path order."""
    changes: list[Change] = []
    removed = {path: v for path, v in old.items() if path not in new}
    added = {path: v for path, v in new.items() if path not in old}
    renamed = _renames(removed, added)
    for path in sorted({*old, *new}):
        if path in old and path in new:
            changes.extend(diff_spec(path, old[path], new[path]))
        elif path in added and path in renamed:
            previous = renamed[path]
            changes.append(Change(path, FILE_KEY, previous.path, path, CHANGED, "renamed"))
            changes.extend(diff_spec(path, previous, added[path]))
        elif path in added:
            changes.append(_whole_spec(added[path], added=True))
        elif path not in {v.path for v in renamed.values()}:
            changes.append(_whole_spec(removed[path], added=False))
    return changes


def _renames(
    removed: Mapping[str, SpecVersion], added: Mapping[str, SpecVersion]
) -> dict[str, SpecVersion]:
    """New path -> old version, for files that moved but kept their spec name."""
    by_name = {v.name: v for v in removed.values() if v.name is not None}
    return {
        path: by_name[version.name]
        for path, version in added.items()
        if version.name is not None and version.name in by_name
    }


def _whole_spec(version: SpecVersion, *, added: bool) -> Change:
    count = f", {counted(version.checks, 'check')}" if version.checks is not None else ""
    if version.error is not None:
        note = f"{'added' if added else 'removed'}; {_problem(version)}"
        return Change(version.path, SPEC_KEY, *_sides(added, _state(version)), CHANGED, note)
    name = version.name or "?"
    if added:
        return Change(version.path, SPEC_KEY, ABSENT, name, TIGHTENED, f"spec added{count}")
    return Change(version.path, SPEC_KEY, name, ABSENT, LOOSENED, f"spec removed{count}")


def _sides(added: bool, value: Any) -> tuple[Any, Any]:
    return (ABSENT, value) if added else (value, ABSENT)


def diff_spec(path: str, old: SpecVersion, new: SpecVersion) -> list[Change]:
    """Changed keys of one spec file, in the order the keys are written."""
    if old.data is None or new.data is None:
        if old.error == new.error and old.digest == new.digest:
            return []
        note = _problem(new) if new.error else "now a readable spec"
        if old.error == new.error:
            note = f"content changed; {note}"
        return [Change(path, SPEC_KEY, _state(old), _state(new), CHANGED, note)]
    old_values, old_written = effective(old.data)
    new_values, new_written = effective(new.data)
    changes = []
    for key in _ordered_union(old_values, new_values):
        before, after = old_values.get(key, ABSENT), new_values.get(key, ABSENT)
        shown = key in old_written or key in new_written or is_threshold(key)
        if before == after or not shown:
            continue
        if _cohort_entry(key) and before is not ABSENT and after is not ABSENT:
            continue  # a cohort on both sides: its changed keys are rows of their own
        if key[0] == "cohorts" and len(key) > 2:
            entry = key[:2]
            if entry not in old_values or entry not in new_values:
                continue  # inside a cohort added or removed as a whole
        if _cohort_entry(key):
            verdict, note = (
                (TIGHTENED, "cohort added") if before is ABSENT else (LOOSENED, "cohort removed")
            )
        else:
            both = _section_of(key) in old_values and _section_of(key) in new_values
            verdict, note = classify(key, before, after, section_on_both_sides=both)
        changes.append(
            Change(
                path, format_path(key), before, after, verdict, note,
                old_default=before is not ABSENT and key not in old_written,
                new_default=after is not ABSENT and key not in new_written,
            )
        )  # fmt: skip
    return changes


def _state(version: SpecVersion) -> str:
    if version.error is None:
        return "valid"
    return "not a spec" if version.not_spec else "invalid"


def _problem(version: SpecVersion) -> str:
    return f"{'not a spec' if version.not_spec else 'not a valid spec'}: {version.error}"


def _cohort_entry(key: KeyPath) -> bool:
    return len(key) == 2 and key[0] == "cohorts"


def _section_of(key: KeyPath) -> KeyPath:
    """The section a key belongs to (``("sla",)``, or ``("cohorts", id, "data")``), recorded
    in :func:`effective` so that a policy key can tell a changed value from a gone section."""
    return key[:3] if key[0] == "cohorts" else key[:1]


def effective(data: Mapping[str, Any]) -> tuple[dict[KeyPath, Any], dict[KeyPath, Any]]:
    """Flattened values of a spec with defaults filled in, and the values actually written.

    Each section is normalised by its typed model when it is valid on its own (so defaults
    appear and equal values compare equal however they are written); an invalid or unknown
    section is compared as written. A written value is shown as written (``220``, not the
    model's ``220.0``). Sections are also recorded under their own key (value ``{}``) so that
    a policy key can tell whether its section exists.
    """
    values: dict[KeyPath, Any] = {}
    written: dict[KeyPath, Any] = {}
    for name, value in _normalised_sections(data).items():
        values[(name,)] = {}
        _flatten(value, (name,), values)
    for name, value in data.items():
        if name != "cohorts":
            _flatten(value, (name,), written)
    for key, value in written.items():
        if values.get(key) == value:
            values[key] = value
    for cohort_id, override in _cohorts(data):
        values[("cohorts", cohort_id)] = written[("cohorts", cohort_id)] = override
        for section, value in override.items():
            values[("cohorts", cohort_id, section)] = {}
            flat = _flat(value, ("cohorts", cohort_id, section))
            values.update(flat)
            written.update(flat)
    return values, written


def _normalised_sections(data: Mapping[str, Any]) -> dict[str, Any]:
    sections: dict[str, Any] = {}
    for name, field in RunConfig.model_fields.items():
        model = _section_model(field.annotation)
        raw = data.get(name, ABSENT)
        if model is not None and isinstance(raw, dict):
            try:
                sections[name] = model.model_validate(raw).model_dump(mode="json")
            except ValidationError:
                sections[name] = raw
        elif model is not None and raw is ABSENT:
            default = field.get_default(call_default_factory=True)
            if isinstance(default, BaseModel):
                sections[name] = default.model_dump(mode="json")
        elif raw is not ABSENT:
            sections[name] = raw
    for name, raw in data.items():  # sections this version does not know, as written
        if name not in sections and name != "cohorts":
            sections[name] = raw
    if isinstance(sections.get("sla"), dict):
        sections["sla"] = _with_script_targets(sections["sla"])
    return sections


def _with_script_targets(sla: dict[str, Any]) -> dict[str, Any]:
    """An sla section listing no latency target stands for the old script's targets."""
    keys = [f"{name}_ms" for name in STATISTICS]
    if any(sla.get(key) is not None for key in keys):
        return sla
    return {**sla, **{f"{name}_ms": limit for name, limit in SCRIPT_TARGETS_MS.items()}}


def _section_model(annotation: Any) -> type[BaseModel] | None:
    for candidate in (annotation, *get_args(annotation)):
        if isinstance(candidate, type) and issubclass(candidate, BaseModel):
            return candidate
    return None


def _cohorts(data: Mapping[str, Any]) -> Iterable[tuple[str, dict[str, Any]]]:
    declared = data.get("cohorts")
    if not isinstance(declared, list):
        return
    for index, entry in enumerate(declared):
        if isinstance(entry, dict):
            cohort_id = entry.get("id")
            label = cohort_id if isinstance(cohort_id, str) else f"#{index}"
            yield label, {key: value for key, value in entry.items() if key != "id"}


def _flat(value: Any, prefix: KeyPath) -> dict[KeyPath, Any]:
    flat: dict[KeyPath, Any] = {}
    _flatten(value, prefix, flat)
    return flat


def _flatten(value: Any, prefix: KeyPath, into: dict[KeyPath, Any]) -> None:
    """Mappings become dotted keys; lists and scalars are leaves; ``None`` means unset."""
    if isinstance(value, dict):
        for key, item in value.items():
            _flatten(item, (*prefix, str(key)), into)
    elif value is not None:
        into[prefix] = value


def _ordered_union(first: Mapping[KeyPath, Any], second: Mapping[KeyPath, Any]) -> list[KeyPath]:
    """Keys of ``second`` in its order, with keys only in ``first`` after their predecessor."""
    order = list(second)
    seen = set(order)
    anchor: KeyPath | None = None
    for key in first:
        if key not in seen:
            order.insert(order.index(anchor) + 1 if anchor is not None else 0, key)
            seen.add(key)
        anchor = key
    return [key for key in order if not _is_section_marker(key, first, second)]


def _is_section_marker(
    key: KeyPath, first: Mapping[KeyPath, Any], second: Mapping[KeyPath, Any]
) -> bool:
    """Section markers (``{}`` recorded by :func:`effective`) are not rows of their own."""
    marker = first.get(key, second.get(key)) == {} and not _cohort_entry(key)
    return marker and (len(key) == 1 or (key[0] == "cohorts" and len(key) == 3))


def format_path(key: KeyPath) -> str:
    """``("cohorts", "beta", "training", "seed")`` -> ``cohorts[beta].training.seed``."""
    if key and key[0] == "cohorts" and len(key) > 1:
        rest = ".".join(key[2:])
        return f"cohorts[{key[1]}]" + (f".{rest}" if rest else "")
    return ".".join(key)
