"""How counts and cohort ids read in a sentence, in one place, so every message says
"1 cohort, 3 checks" and never "1 cohorts", and a cohort whose id already says it is one
reads ``cohort_b``, not ``cohort cohort_b``."""

from __future__ import annotations

from collections.abc import Sequence


def counted(count: int, noun: str, plural: str | None = None) -> str:
    """``1 check``, ``0 checks``, ``3 checks`` (``plural`` for a noun not made with ``s``)."""
    return f"{count} {noun if count == 1 else plural or noun + 's'}"


def cohort_named(cohort_id: str) -> str:
    """``cohort alpha``; an id that starts with the word itself (``cohort_b``, ``cohort2``)
    is shown alone."""
    return cohort_id if _says_cohort(cohort_id) else f"cohort {cohort_id}"


def cohorts_named(cohort_ids: Sequence[str]) -> str:
    """``cohort alpha``, ``cohorts alpha, beta``; ``cohort_a, cohort_b`` when every id says
    it is a cohort already."""
    if len(cohort_ids) == 1:
        return cohort_named(cohort_ids[0])
    listed = ", ".join(cohort_ids)
    return listed if all(_says_cohort(c) for c in cohort_ids) else f"cohorts {listed}"


def _says_cohort(cohort_id: str) -> bool:
    return cohort_id.lower().startswith("cohort")
