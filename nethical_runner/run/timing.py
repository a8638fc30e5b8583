"""SLA latency timed away from the controller, on a worker holding a resource the spec names
(``sla.resource``: the machine that will serve the model), as plain data both ways."""

from __future__ import annotations

import numpy as np

from nethical_runner.models import load_model
from nethical_runner.run.task import WireError, pack, unpack
from nethical_runner.sla.measure import time_predictions
from nethical_runner.spec.config import SlaConfig


def time_encoded(
    model: bytes, rows: np.ndarray, sla: SlaConfig, estimator_prefixes: tuple[str, ...]
) -> np.ndarray:
    """Latency samples in milliseconds of the model file ``model`` on ``rows``, as the SLA
    section asks for them."""
    loaded, _ = load_model(model, estimator_prefixes)
    return time_predictions(
        loaded.predict_proba, rows, calls=sla.calls, warmup=sla.warmup, batch_size=sla.batch_size
    )


def encode_timing(
    model: bytes, rows: np.ndarray, sla: SlaConfig, estimator_prefixes: tuple[str, ...]
) -> bytes:
    header = {"sla": sla.model_dump(mode="json"), "estimator_prefixes": list(estimator_prefixes)}
    return pack(header, {"model": np.frombuffer(model, dtype=np.uint8), "rows": rows})


def run_timing_encoded(task: bytes) -> bytes:
    """A worker's timing job: encoded model and rows in, encoded samples out."""
    header, arrays = unpack(task)
    sla = SlaConfig.model_validate(header["sla"])
    prefixes = tuple(map(str, header["estimator_prefixes"]))
    samples = time_encoded(arrays["model"].tobytes(), arrays["rows"], sla, prefixes)
    return pack({}, {"samples": samples})


def decode_samples(answer: bytes) -> np.ndarray:
    _, arrays = unpack(answer)
    samples = arrays.get("samples")
    if samples is None or samples.ndim != 1 or samples.dtype != np.float64:
        raise WireError("not latency samples")
    return samples
