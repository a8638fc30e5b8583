"""How often a verdict near its threshold goes either way, measured through the real pipeline.

A gate on 200 validation rows judges a sample, not the model: a model whose accuracy on its
whole population is 0.855 can miss ``min_accuracy: 0.85`` on an unlucky sample, and one at
0.845 can pass it. Each scenario trains many seeded specs exactly as the front ends do
(``load_spec`` -> ``run_spec`` -> ``collect_checks`` -> ``judge_all``) and compares the verdicts
with the model's population value, measured on a large fresh sample from the same synthetic
generator with a seed no spec uses:

* ``accuracy``: logistic models whose population accuracy is about 0.855 and 0.845 (set by
  ``data.label_noise``, 8000 training rows), judged on 200 and 2,000 validation rows;
* ``ece``: well-calibrated logistic models on 200 validation rows (mean binned ECE against the
  population ECE, the share failing ``max_ece: 0.08``, and how often the training seed alone
  flips the verdict on fixed data), and a fully grown decision tree, which is overconfident;
* ``slices``: a slice on a column independent of the label (about 80 rows against 1,920) under
  ``max_slice_spread: {ece: 0.03}``, and cohorts of 100 and 2,000 validation rows from one
  population under the default drift bounds;
* ``rerun``: a spec whose accuracy dropped fails ``drift[accuracy.vs_previous]``; the same job
  is then run again unchanged.

Gate options newer code may accept (``confidence``) are tried by loading a spec that uses them,
and reported as not supported when the spec is refused. Decisions are counted by their value
(``pass``, ``fail``, ``skip`` and any other the outcome type gains).

    python benchmarks/verdicts.py [scenario ...] [--seeds N] [--json PATH]
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from itertools import combinations
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from tabulate import tabulate

from nethical_runner.checks.collect import Judged, collect_checks, judge_all
from nethical_runner.checks.outcome import Outcome
from nethical_runner.data import synthetic
from nethical_runner.metrics.classification import classification_metrics
from nethical_runner.run.loading import load_spec
from nethical_runner.run.pipeline import run_spec
from nethical_runner.run.results import CohortResult, SpecResult
from nethical_runner.run.settings import RunSettings
from nethical_runner.spec import SpecError

TRAIN_ROWS = 8000
FRESH_ROWS = 200_000  # population values: accuracy and 15-bin ECE on this many new rows
FRESH_BLOCK = 1_000_000  # rows generated at a time when gathering fresh rows of a slice
FRESH_SEED = 2**31  # + the run's seed: far from every data seed a scenario uses
# data.label_noise giving a logistic model on TRAIN_ROWS rows this population accuracy
# (measured: the Bayes accuracy at these noise levels, less the small cost of estimation).
NOISE_FOR_ACCURACY = {0.855: 0.1206, 0.845: 0.131}
MISCALIBRATED_NOISE = 0.08  # a fully grown tree on 800 rows: population ECE about 0.15
FLIP_TRAINING_SEEDS = (11, 12, 13, 14, 15)  # trained on one fixed data seed each
SLICE_COLUMN = "recency_score"  # independent of the label in the risk generator
SMALL_SLICE = [0.0, 0.04]  # 4% of the rows
DEFAULT_SEEDS = {"accuracy": 100, "ece": 40, "slices": 20, "rerun": 5}
CONFIDENCE = 0.95


@dataclass(frozen=True)
class Run:
    result: SpecResult
    judged: list[Judged]

    def outcome(self, label: str, cohort: str | None = None) -> Outcome:
        """The outcome of the item ``label`` (``gate[accuracy]``) of ``cohort``, if given."""
        return next(
            j.outcome
            for j in self.judged
            if j.check.label == label and (cohort is None or j.check.cohort_id == cohort)
        )

    def cohort(self, cohort: str = "default") -> CohortResult:
        trained = self.result.cohorts[cohort]
        assert isinstance(trained, CohortResult), f"cohort {cohort} did not train: {trained}"
        return trained


class Workspace:
    """Spec files and run outputs in one temporary folder; every run gets its own output
    folder unless it names one (the reruns share theirs, so each sees the one before)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.count = 0

    def write(self, document: Mapping[str, Any]) -> Path:
        self.count += 1
        path = self.folder / f"spec-{self.count}.yaml"
        path.write_text(yaml.safe_dump(dict(document), sort_keys=False))
        return path

    def accepts(self, document: Mapping[str, Any]) -> bool:
        """Whether the installed spec schema loads ``document`` (options of newer code)."""
        try:
            load_spec(self.write(document), root=self.folder)
        except SpecError:
            return False
        return True

    def run(self, document: Mapping[str, Any], out: Path | None = None) -> Run:
        spec = load_spec(self.write(document), root=self.folder)
        result = run_spec(spec, RunSettings(out or self.folder / f"out-{self.count}"))
        return Run(result, judge_all(result, collect_checks(spec)))


def spec(
    name: str,
    seed: int,
    *,
    validation_rows: int,
    label_noise: float = 0.05,
    train_rows: int = TRAIN_ROWS,
    model: Mapping[str, Any] | None = None,
    data_seed: int | None = None,
    **sections: Any,
) -> dict[str, Any]:
    """A synthetic-data spec training on ``train_rows`` and validating on ``validation_rows``
    (the temporal split's first rows train)."""
    return {
        "version": 1,
        "name": name,
        "model": dict(model or {"type": "logistic"}),
        "training": {"seed": seed},
        "data": data_section(train_rows, validation_rows, label_noise, data_seed),
        **sections,
    }


def data_section(
    train_rows: int, validation_rows: int, label_noise: float, seed: int | None = None
) -> dict[str, Any]:
    samples = train_rows + validation_rows
    data: dict[str, Any] = {
        "samples": samples,
        "label_noise": label_noise,
        "split": {"train_fraction": train_rows / samples},
    }
    if seed is not None:
        data["seed"] = seed
    return data


def population(run: Run, seed: int, sliced: bool = False) -> dict[str, Any]:
    """The default cohort's model's metrics, with its metric settings, on :data:`FRESH_ROWS`
    fresh rows of its cohort's generator and label noise: any rows, or (``sliced``) rows whose
    :data:`SLICE_COLUMN` lies in :data:`SMALL_SLICE`, so both are estimated from as many rows."""
    trained = run.cohort()
    config = next(c for c in run.result.spec.cohorts if c.id == trained.cohort_id).config
    kind = trained.model.synthetic_kind(trained.model.params)
    X, y = fresh_rows(kind, config.data.label_noise, seed, sliced)
    return classification_metrics(
        y,
        trained.model.predict_proba(X)[:, 1],
        threshold=config.metrics.decision_threshold,
        ece_bins=config.metrics.ece_bins,
        ece_confidence=config.metrics.ece_confidence,
    )


def fresh_rows(
    kind: str, label_noise: float, seed: int, sliced: bool
) -> tuple[np.ndarray, np.ndarray]:
    """:data:`FRESH_ROWS` rows no spec trained or validated on; slice rows are gathered from
    blocks of :data:`FRESH_BLOCK` rows, each block with a seed of its own."""
    if not sliced:
        X, y, _ = synthetic.generate(kind, FRESH_ROWS, label_noise, FRESH_SEED + seed)
        return X, y
    features: list[np.ndarray] = []
    labels: list[np.ndarray] = []
    while sum(part.size for part in labels) < FRESH_ROWS:
        block_seed = FRESH_SEED + (len(labels) + 1) * 2**20 + seed
        X, y, names = synthetic.generate(kind, FRESH_BLOCK, label_noise, block_seed)
        values = X[:, names.index(SLICE_COLUMN)]
        keep = (values >= SMALL_SLICE[0]) & (values <= SMALL_SLICE[1])
        features.append(X[keep])
        labels.append(y[keep])
    return np.concatenate(features)[:FRESH_ROWS], np.concatenate(labels)[:FRESH_ROWS]


def decision(outcome: Outcome) -> str:
    """``pass``, ``fail``, ``skip``, or whatever new decision the outcome carries."""
    return str(getattr(outcome.decision, "value", outcome.decision))


def shares(decisions: Iterable[str]) -> dict[str, float]:
    counts = Counter(decisions)
    total = sum(counts.values())
    return {name: counts[name] / total for name in sorted(counts)}


def shown(found: Mapping[str, float]) -> str:
    """``pass 59% fail 41%``."""
    return " ".join(f"{name} {share:.0%}" for name, share in found.items())


def gate_variants(
    workspace: Workspace, gate: Mapping[str, float]
) -> list[tuple[str, dict[str, Any] | None]]:
    """The plain gate, and the gate with ``confidence`` (None when the schema refuses it)."""
    with_confidence = {**gate, "confidence": CONFIDENCE}
    probe = spec("probe", 0, validation_rows=200, gate=with_confidence)
    return [
        ("plain", dict(gate)),
        (f"confidence {CONFIDENCE}", with_confidence if workspace.accepts(probe) else None),
    ]


def accuracy(workspace: Workspace, seeds: int) -> dict[str, Any]:
    rows = []
    for variant, gate in gate_variants(workspace, {"min_accuracy": 0.85}):
        for target, noise in NOISE_FOR_ACCURACY.items():
            for validation in (200, 2000):
                row: dict[str, Any] = {"gate": variant, "target": target, "validation": validation}
                if gate is None:
                    rows.append({**row, "result": "not supported"})
                    continue
                decisions, measured, true = [], [], []
                for seed in range(seeds):
                    document = spec(
                        "accuracy", seed, validation_rows=validation, label_noise=noise, gate=gate
                    )
                    run = workspace.run(document)
                    decisions.append(decision(run.outcome("gate[accuracy]")))
                    measured.append(run.cohort().metrics["accuracy"])
                    true.append(population(run, seed)["accuracy"])
                rows.append(
                    {
                        **row,
                        "label_noise": noise,
                        "population accuracy": _mean_range(true),
                        "measured accuracy": _mean_range(measured),
                        "decisions": shares(decisions),
                    }
                )
    return {"seeds": seeds, "rows": rows}


def ece(workspace: Workspace, seeds: int) -> dict[str, Any]:
    tree = {
        "type": "sklearn",
        "estimator": "sklearn.tree.DecisionTreeClassifier",
        "params": {"random_state": 0},
    }
    models: list[tuple[str, dict[str, Any], float, int]] = [
        (f"logistic (accuracy {t})", {"type": "logistic"}, noise, TRAIN_ROWS)
        for t, noise in NOISE_FOR_ACCURACY.items()
    ]
    models.append(("decision tree, fully grown", tree, MISCALIBRATED_NOISE, 800))
    rows = []
    for variant, gate in gate_variants(workspace, {"max_ece": 0.08}):
        for label, model, noise, train_rows in models:
            row: dict[str, Any] = {"gate": variant, "model": label}
            if gate is None:
                rows.append({**row, "result": "not supported"})
                continue
            document = functools.partial(
                spec, "ece", validation_rows=200, label_noise=noise, train_rows=train_rows,
                model=model, gate=gate,
            )  # fmt: skip

            decisions, measured, true = [], [], []
            for seed in range(seeds):
                run = workspace.run(document(seed))
                decisions.append(decision(run.outcome("gate[ece]")))
                measured.append(run.cohort().metrics["ece"])
                true.append(population(run, seed)["ece"])
            row |= {
                "label_noise": noise,
                "train rows": train_rows,
                "population ece": _mean_range(true),
                "measured ece": _mean_range(measured),
                "decisions": shares(decisions),
            }
            if model["type"] == "logistic":
                row["training-seed flips"] = training_seed_flips(workspace, document, seeds)
            rows.append(row)
    return {"seeds": seeds, "rows": rows}


def training_seed_flips(
    workspace: Workspace, document: Callable[..., dict[str, Any]], seeds: int
) -> dict[str, Any]:
    """On each fixed data seed, the gate[ece] decisions of :data:`FLIP_TRAINING_SEEDS`: the
    share of pairs of training seeds whose decisions differ, and of data seeds on which they
    do not all agree."""
    differing, pairs, split_data = 0, 0, 0
    for data_seed in range(seeds):
        found = [
            decision(workspace.run(document(t, data_seed=data_seed)).outcome("gate[ece]"))
            for t in FLIP_TRAINING_SEEDS
        ]
        differing += sum(a != b for a, b in combinations(found, 2))
        pairs += len(found) * (len(found) - 1) // 2
        split_data += len(set(found)) > 1
    return {
        "training seeds per data seed": len(FLIP_TRAINING_SEEDS),
        "pairs differing": differing / pairs,
        "data seeds not unanimous": split_data / seeds,
    }


def slices(workspace: Workspace, seeds: int) -> dict[str, Any]:
    slice_decisions, slice_warned, rows_in, population_ece = [], 0, [], []
    cohort_items: dict[str, list[str]] = {}
    cohort_fail, cohort_warn = 0, 0
    for seed in range(seeds):
        run = workspace.run(
            spec(
                "slices", seed, validation_rows=2000, gate={},
                slices=[
                    {"id": "few", "where": {"column": SLICE_COLUMN, "between": SMALL_SLICE}},
                    {"id": "rest", "where": {"column": SLICE_COLUMN, "between": [0.04, 1.0]}},
                ],
                drift={"max_spread": {}, "max_slice_spread": {"ece": 0.03}},
            )
        )  # fmt: skip
        outcome = run.outcome("drift[slice.ece]", "default")
        slice_decisions.append(decision(outcome))
        slice_warned += outcome.warning is not None
        rows_in.append(_slice_rows(run.cohort()))
        population_ece.append(
            (population(run, seed)["ece"], population(run, seed, sliced=True)["ece"])
        )

        run = workspace.run(
            spec(
                "cohorts", seed, validation_rows=2000, gate={}, drift={},
                cohorts=[
                    {"id": "small", "data": data_section(TRAIN_ROWS, 100, 0.05)},
                    {"id": "large"},
                ],
            )
        )  # fmt: skip
        outcomes = [j for j in run.judged if j.check.kind == "drift"]
        for j in outcomes:
            cohort_items.setdefault(j.check.label, []).append(
                decision(j.outcome) + (" (warned)" if j.outcome.warning else "")
            )
        failed = any(j.outcome.failed for j in outcomes)
        cohort_fail += failed
        cohort_warn += not failed and any(j.outcome.warning for j in outcomes)
    return {
        "seeds": seeds,
        "slice": {
            "validation rows in the slices (mean)": dict(
                zip(("few", "rest"), np.mean(rows_in, axis=0).round(1).tolist(), strict=True)
            ),
            "population ece (all rows, slice rows)": np.mean(population_ece, axis=0)
            .round(4)
            .tolist(),
            "decisions": shares(slice_decisions),
            "warned": slice_warned / seeds,
        },
        "cohorts": {
            "validation rows": {"small": 100, "large": 2000},
            "seeds with a failed drift item": cohort_fail,
            "seeds warned, none failed": cohort_warn,
            "items": {label: dict(Counter(found)) for label, found in cohort_items.items()},
        },
    }


def _slice_rows(trained: CohortResult) -> list[int]:
    """Validation rows in the slices ``few`` (:data:`SMALL_SLICE`) and ``rest``."""
    values = trained.split.X_val[:, trained.dataset.feature_names.index(SLICE_COLUMN)]
    few = int(np.count_nonzero(values <= SMALL_SLICE[1]))
    return [few, values.size - few]


def rerun(workspace: Workspace, seeds: int) -> dict[str, Any]:
    """Per seed: a healthy run (the baseline), a run whose accuracy dropped (label noise 0.05
    -> 0.12), and the same failing spec run again into the same output folder."""
    runs = []
    for seed in range(seeds):
        out = workspace.folder / f"rerun-{seed}"
        document = functools.partial(
            spec, "rerun", seed, validation_rows=2000, gate={},
            drift={"max_spread": {}, "max_drop": {"accuracy": 0.02}},
        )  # fmt: skip

        found = {}
        for step, noise in (("baseline", 0.05), ("dropped", 0.12), ("rerun", 0.12)):
            run = workspace.run(document(label_noise=noise), out=out)
            outcome = run.outcome("drift[accuracy.vs_previous]")
            found[step] = {
                "decision": decision(outcome),
                "accuracy": round(run.cohort().metrics["accuracy"], 4),
            }
        runs.append(found)
    return {
        "seeds": seeds,
        "dropped run failed": sum(r["dropped"]["decision"] == "fail" for r in runs),
        "rerun failed again": sum(r["rerun"]["decision"] == "fail" for r in runs),
        "rerun decisions": dict(Counter(r["rerun"]["decision"] for r in runs)),
        "runs": runs,
    }


def _mean_range(values: list[float]) -> dict[str, float]:
    return {
        "mean": round(float(np.mean(values)), 4),
        "min": round(float(np.min(values)), 4),
        "max": round(float(np.max(values)), 4),
    }


def _span(found: Mapping[str, float]) -> str:
    return f"{found['mean']:.4f} [{found['min']:.4f}, {found['max']:.4f}]"


def print_tables(name: str, measured: Mapping[str, Any]) -> None:
    print(f"\n#### {name} ({measured['seeds']} seeds, {measured['seconds']} s)\n")
    if name == "accuracy":
        table = [
            [r["gate"], r["target"], r["validation"], r.get("label_noise", ""),
             _span(r["population accuracy"]) if "decisions" in r else "",
             shown(r["decisions"]) if "decisions" in r else r["result"]]
            for r in measured["rows"]
        ]  # fmt: skip
        headers = ["gate", "target", "val rows", "noise", "population acc (mean [min, max])",
                   "gate[accuracy]"]  # fmt: skip
    elif name == "ece":
        table = []
        for r in measured["rows"]:
            if "decisions" not in r:
                table.append([r["gate"], r["model"], "", "", r["result"], ""])
                continue
            flips = r.get("training-seed flips")
            flip = (
                f"{flips['pairs differing']:.0%} of pairs, {flips['data seeds not unanimous']:.0%}"
                " of data seeds"
                if flips
                else ""
            )
            table.append(
                [r["gate"], r["model"], _span(r["population ece"]), _span(r["measured ece"]),
                 shown(r["decisions"]), flip]
            )  # fmt: skip
        headers = ["gate", "model (200 val rows)", "population ece", "measured ece",
                   "gate[ece]", "training seed flips"]  # fmt: skip
    elif name == "slices":
        s, c = measured["slice"], measured["cohorts"]
        table = [
            ["slice few vs rest, max_slice_spread ece 0.03",
             f"{s['validation rows in the slices (mean)']}",
             f"population ece {s['population ece (all rows, slice rows)']}",
             f"{shown(s['decisions'])}, warned {s['warned']:.0%}"],
            ["cohorts 100 vs 2000 rows, default drift bounds", "",
             "; ".join(f"{k}: {dict(v)}" for k, v in c["items"].items()),
             f"failed {c['seeds with a failed drift item']}/{measured['seeds']}, "
             f"warned {c['seeds warned, none failed']}/{measured['seeds']}"],
        ]  # fmt: skip
        headers = ["case", "rows", "detail", "seeds"]
    else:
        table = [
            [measured["seeds"], measured["dropped run failed"], measured["rerun failed again"],
             measured["rerun decisions"]]
        ]  # fmt: skip
        headers = ["seeds", "drop run failed", "rerun failed again", "rerun decisions"]
    print(tabulate(table, headers=headers, tablefmt="github"))


SCENARIOS: dict[str, Callable[[Workspace, int], dict[str, Any]]] = {
    "accuracy": accuracy,
    "ece": ece,
    "slices": slices,
    "rerun": rerun,
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("scenarios", nargs="*", metavar="scenario", help=", ".join(SCENARIOS))
    parser.add_argument("--seeds", type=int, help="seeds per scenario (default: per scenario)")
    parser.add_argument("--json", type=Path, help="write the measurements here")
    args = parser.parse_args(argv)
    os.environ.setdefault("NETHICAL_DIAGRAMS", "0")  # diagrams cost time and change no verdict
    unknown = sorted(set(args.scenarios) - set(SCENARIOS))
    if unknown:
        parser.error(f"unknown scenario {', '.join(unknown)}: choose from {', '.join(SCENARIOS)}")
    measured: dict[str, Any] = {}
    for name in args.scenarios or SCENARIOS:
        seeds = args.seeds or DEFAULT_SEEDS[name]
        start = time.perf_counter()
        with tempfile.TemporaryDirectory() as folder:
            measured[name] = SCENARIOS[name](Workspace(Path(folder)), seeds)
        measured[name]["seconds"] = round(time.perf_counter() - start, 1)
        print_tables(name, measured[name])
    if args.json:
        args.json.write_text(json.dumps(measured, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
