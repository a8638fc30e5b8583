"""Loading a spec for a run: the spec layer's rules plus the ones that need the data's columns."""

from __future__ import annotations

from pathlib import Path

import pytest

from nethical_runner.data import synthetic
from nethical_runner.run.loading import load_spec
from nethical_runner.spec import SpecError
from nethical_runner.spec import load_spec as load_spec_file

SPEC = """\
version: 1
name: sliced
model: {type: logistic}
data: {samples: 200}
slices:
  - {id: a, where: {column: radius, equals: 1}}
"""


def test_slice_columns_are_checked_by_the_run_layer_not_the_spec_layer(tmp_path: Path) -> None:
    path = tmp_path / "sliced.yaml"
    path.write_text(SPEC)
    assert [s.id for s in load_spec_file(path).slices] == ["a"]  # the spec alone is valid
    with pytest.raises(SpecError) as caught:
        load_spec(path)
    assert [str(p) for p in caught.value.problems] == [
        f"{path}:6:29: slices[0].where.column: 'radius' is not a feature of cohort default's "
        "data (features: violation_count, severity_max, recency_score, frequency_score, "
        "context_risk)"
    ]


@pytest.mark.parametrize("kind", sorted(synthetic.GENERATORS))
def test_synthetic_feature_names_are_the_generated_columns(kind: str) -> None:
    assert synthetic.generate(kind, 5, 0.1, 0)[2] == synthetic.feature_names(kind)
