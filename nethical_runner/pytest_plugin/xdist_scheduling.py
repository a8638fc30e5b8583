"""Under pytest-xdist, schedule by file: a spec is one file, so all its items run on one worker
and the spec trains once.

``load`` (the default of ``-n``) and ``worksteal`` would spread a spec's items and train it on
several workers, so for them the scheduler is xdist's own ``loadfile`` one; the other modes
already keep a file together and are left to xdist. (``loadgroup`` would do too, but it
rewrites node ids in a way that pytest 9.1's structured ids no longer allow.) Registered only
when xdist is loaded, since the hook and the scheduler are xdist's.
"""

from __future__ import annotations

from typing import Any

import pytest
from xdist.scheduler import LoadFileScheduling

SPREADING_MODES = frozenset({"load", "worksteal"})


def _dist_mode(config: pytest.Config) -> str:
    return str(getattr(config.option, "dist", "no"))


@pytest.hookimpl(tryfirst=True, optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """Runs before xdist's own implementation, whose first answer would otherwise win."""
    if _dist_mode(config) in SPREADING_MODES:
        return LoadFileScheduling(config, log)
    return None


def pytest_report_header(config: pytest.Config) -> str | None:
    if _dist_mode(config) in SPREADING_MODES | {"loadfile"}:
        return (
            "nethical-runner: scheduling as with --dist loadfile, so each spec runs on one "
            "worker and trains once"
        )
    return None
