"""The pipeline's side of the audit log: collect a spec run's events, then commit them at once.

Events are kept in memory while the spec trains and appended as one batch (new chunks plus one
signed-off tree head) when it is done, so a run that crashes or is killed leaves no partial
trace: its events are all in the log or none are. Recording is one call wherever something
worth proving happens::

    recorder.record("sla_report", "alpha", files=[...])

The recorder takes plain event fields and plain cohort outcomes; what a training run records
is decided where the run is observed (:mod:`nethical_runner.run.audit_observer`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from nethical_runner._words import counted
from nethical_runner.audit.events import ENVELOPE, Secrets, json_safe, now
from nethical_runner.audit.formats import TreeHead
from nethical_runner.audit.log import AuditLogError, append_events
from nethical_runner.audit.merkle import canonical_json
from nethical_runner.audit.signing import key_from_env
from nethical_runner.audit.summary import RUN_END, CohortOutcome, write_summaries

AUDIT_SUBDIR = "audit"


@dataclass(frozen=True)
class AuditReceipt:
    """Where one spec run's events went: the log, the head that committed them, their indexes;
    or, when the append failed, why."""

    directory: Path
    run_id: str
    spec_name: str
    event_count: int
    head: TreeHead | None = None
    first_index: int | None = None
    error: str | None = None

    def describe(self) -> str:
        if self.head is None or self.first_index is None:
            return f"audit log {self.directory}: not appended: {self.error}"
        last = self.first_index + self.event_count - 1
        text = (
            f"audit log {self.directory}: {counted(self.event_count, 'event')} appended (log index "
            f"{self.first_index}-{last}), head {self.head.sequence}: {self.head.describe()}"
        )
        return f"{text}; {self.error}" if self.error else text


class AuditRecorder:
    """Collects the events of one spec run; :meth:`finish` appends them to the log."""

    def __init__(
        self, directory: Path, *, run_id: str = "", spec_name: str = "", chunk_size: int = 1000
    ) -> None:
        self.directory = directory
        self.run_id = run_id
        self.spec_name = spec_name
        self.chunk_size = chunk_size
        self.events: list[dict[str, Any]] = []
        self._created_at = now()
        self._secrets = Secrets.from_env()

    def record(self, event_type: str, cohort: str | None = None, /, **fields: Any) -> None:
        """Add one event of ``event_type`` (for ``cohort``, or the whole spec when None).

        Raises ValueError, at the call that caused it, for a field that shadows the envelope or
        a value JSON cannot hold (NaN, an arbitrary object): a log that cannot be written is
        found when the event is made, not when the run ends.
        """
        shadowed = set(fields) & set(ENVELOPE)
        if shadowed:
            raise ValueError(f"audit event fields {sorted(shadowed)} are reserved")
        event = {
            "type": event_type,
            "run_id": self.run_id,
            "spec": self.spec_name,
            "cohort": cohort,
            "timestamp": now(),
            **fields,
        }
        try:
            safe = json_safe(event, self._secrets)
            canonical_json(safe)
        except ValueError as error:
            raise ValueError(f"audit event {event_type!r}: {error}") from None
        self.events.append(safe)

    def finish(self, outcomes: Mapping[str, CohortOutcome]) -> AuditReceipt:
        """Record ``run_end``, append the run to the log and write the training summaries of
        ``outcomes`` (by cohort id).

        Never raises for a log that cannot be written: the receipt carries the reason, so the
        command line and the ``audit[verify]`` item can report it next to the training results.
        """
        directory = self.directory
        statuses = {cohort_id: outcome.status for cohort_id, outcome in outcomes.items()}
        failed = "failed" in statuses.values()
        self.record(
            RUN_END,
            None,
            cohorts=statuses,
            status="failed" if failed else "completed",
            outcomes=[outcome.record(cohort_id) for cohort_id, outcome in outcomes.items()],
            event_count=len(self.events) + 1,
        )
        count = len(self.events)

        def summaries(head: TreeHead, first_index: int) -> None:
            run_end = {**self.events[-1], "index": first_index + count - 1}
            write_summaries(directory, head, run_end)

        receipt = AuditReceipt(directory, self.run_id, self.spec_name, count)
        try:
            head, first = append_events(
                directory,
                self.events,
                run_id=self.run_id,
                created_at=self._created_at,
                chunk_size=self.chunk_size,
                key=key_from_env(),
                on_commit=summaries,
            )
        except (AuditLogError, OSError, ValueError) as error:
            committed = getattr(error, "committed", None)
            if committed is not None:
                return replace(
                    receipt, head=committed[0], first_index=committed[1], error=str(error)
                )
            return replace(receipt, error=str(error))
        return replace(receipt, head=head, first_index=first)
