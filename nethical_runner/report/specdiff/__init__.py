"""``nethical-runner diff``: what a change to spec files does to the bar a model must clear."""

from nethical_runner.report.specdiff.compare import Change, SpecVersion, diff_spec, diff_versions
from nethical_runner.report.specdiff.rules import CHANGED, LOOSENED, TIGHTENED, Verdict, classify

__all__ = [
    "CHANGED",
    "LOOSENED",
    "TIGHTENED",
    "Change",
    "SpecVersion",
    "Verdict",
    "classify",
    "diff_spec",
    "diff_versions",
]
