"""Output file names: no two different (spec, cohort[, model type, run]) ever share a name, and
no file of one kind is ever named like one of another kind in the same folder."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from nethical_runner import _names
from nethical_runner.models import REGISTRY
from nethical_runner.spec.config import NAME_PATTERN

# Short names over few letters, so that names joining alike (``a__a`` + ``a`` against ``a`` +
# ``a__a``) come up at once, and any valid name up to the length limit.
names = st.builds(str.__add__, st.sampled_from("a1"), st.text("a_.-", max_size=6)) | st.from_regex(
    NAME_PATTERN, fullmatch=True
).filter(lambda n: len(n) <= _names.NAME_MAX)
runs = st.builds(str.__add__, st.sampled_from("aZ1"), st.text("a1.-", max_size=6)) | (
    st.from_regex(_names.RUN_PATTERN, fullmatch=True).filter(lambda r: len(r) <= _names.RUN_MAX)
)
types = st.sampled_from(sorted(REGISTRY)) | names


def joined(words: list[str], joins: list[str]) -> str:
    return words[0] + "".join(join + word for join, word in zip(joins, words[1:], strict=True))


@st.composite
def rejoined(draw: st.DrawFn) -> tuple[tuple[str, str], tuple[str, str]]:
    """Two (spec, cohort) pairs cut at different joins of one string of words: the pairs
    that a join by characters names may hold would give the same name (``a__b`` + ``c``
    against ``a`` + ``b__c``, or ``a_b`` + ``c`` against ``a`` + ``b_c``)."""
    words = draw(st.lists(st.text("a1", min_size=1, max_size=2), min_size=3, max_size=5))
    joins = draw(
        st.lists(st.sampled_from(("_", "__", ".", "-")), min_size=len(words) - 1,
                 max_size=len(words) - 1)
    )  # fmt: skip
    cuts = [draw(st.integers(0, len(joins) - 1)) for _ in range(2)]
    return tuple(
        (joined(words[: at + 1], joins[:at]), joined(words[at + 1 :], joins[at + 1 :]))
        for at in cuts
    )  # type: ignore[return-value]


two_pairs = rejoined() | st.tuples(st.tuples(names, names), st.tuples(names, names))

PAIR_KINDS: dict[str, Callable[[str, str], str]] = {
    "pointer": _names.pointer_file,
    "diagram": _names.diagram_file,
}
RUN_KINDS: dict[str, Callable[[str, str, str], str]] = {
    "sla report": _names.sla_report_file,
    "sla documentation": _names.sla_documentation_file,
    "training summary": _names.training_summary_file,
}
MODEL_KINDS: dict[str, Callable[[str, str, str, str], str]] = {
    "model": _names.model_file,
    "metrics": _names.metrics_file,
}


def test_the_names_pattern_is_the_specs_and_cannot_hold_the_separator() -> None:
    assert _names.NAME_PATTERN == NAME_PATTERN
    assert not re.search(re.escape(_names.SEPARATOR), "[a-z0-9_.-]")
    for pattern in (NAME_PATTERN, _names.RUN_PATTERN):
        assert not re.fullmatch(pattern, f"a{_names.SEPARATOR}b")


@pytest.mark.parametrize("kind", sorted(PAIR_KINDS))
@given(pairs=two_pairs)
def test_pair_names_are_injective(
    kind: str, pairs: tuple[tuple[str, str], tuple[str, str]]
) -> None:
    first, second = pairs
    assume(first != second)
    assert PAIR_KINDS[kind](*first) != PAIR_KINDS[kind](*second)


@pytest.mark.parametrize("kind", sorted(RUN_KINDS))
@given(pairs=two_pairs, run_ids=st.tuples(runs, runs))
def test_run_names_are_injective(
    kind: str, pairs: tuple[tuple[str, str], tuple[str, str]], run_ids: tuple[str, str]
) -> None:
    first, second = ((*pair, run_id) for pair, run_id in zip(pairs, run_ids, strict=True))
    assume(first != second)
    assert RUN_KINDS[kind](*first) != RUN_KINDS[kind](*second)


@given(first=st.tuples(names, runs), second=st.tuples(names, runs))
def test_drift_report_ids_are_injective(first: tuple[str, str], second: tuple[str, str]) -> None:
    assume(first != second)
    assert _names.drift_report_id(*first) != _names.drift_report_id(*second)


@given(
    pairs=two_pairs,
    rest=st.tuples(st.tuples(types, runs), st.tuples(types, runs)),
    kinds=st.tuples(st.sampled_from(sorted(MODEL_KINDS)), st.sampled_from(sorted(MODEL_KINDS))),
)
def test_model_folder_names_are_injective_across_kinds(
    pairs: tuple[tuple[str, str], tuple[str, str]],
    rest: tuple[tuple[str, str], tuple[str, str]],
    kinds: tuple[str, str],
) -> None:
    """Models, metrics and pointers share ``models/current``: no file of one pair is any file
    of another, nor a file of another kind of its own pair."""
    first, second = ((*pair, *more) for pair, more in zip(pairs, rest, strict=True))
    assume((first, kinds[0]) != (second, kinds[1]))
    name = MODEL_KINDS[kinds[0]](*first)
    assert name != MODEL_KINDS[kinds[1]](*second)
    assert name != _names.pointer_file(*second[:2])


@given(spec=names, cohort=names, model_type=types, run=runs)
def test_every_name_is_a_portable_file_name(
    spec: str, cohort: str, model_type: str, run: str
) -> None:
    """Letters, digits, ``_.-@``: legal on Linux, macOS and Windows, and never ending in a dot."""
    built = [
        *(kind(spec, cohort) for kind in PAIR_KINDS.values()),
        *(kind(spec, cohort, run) for kind in RUN_KINDS.values()),
        *(kind(spec, cohort, model_type, run) for kind in MODEL_KINDS.values()),
        _names.drift_report_id(spec, run) + ".json",
    ]
    for name in built:
        assert re.fullmatch(r"[A-Za-z0-9_.@-]+", name) and not name.endswith(".")
        assert len(name.encode()) <= 255


@pytest.mark.parametrize(
    "spec, cohort",
    [("a@b", "c"), ("a", "b@c"), ("../a", "b"), ("a", "b/c"), ("", "b"), ("a", "."), ("A", "b"),
     ("a" * 65, "b"), ("a", "b\x00")],
)  # fmt: skip
def test_a_part_that_could_break_a_name_is_refused(spec: str, cohort: str) -> None:
    with pytest.raises(ValueError, match="cannot name an output file"):
        _names.pointer_file(spec, cohort)


@pytest.mark.parametrize("run_id", ["r_1", "r@1", "../r", "", "r/1", "-r"])
def test_a_run_id_that_could_break_a_name_is_refused(run_id: str) -> None:
    with pytest.raises(ValueError, match="run id"):
        _names.model_file("a", "b", "logistic", run_id)
