"""One spec run's part of the audit log: what the ``audit[verify]`` item checks and what the
``audit_log`` fixture hands to hand-written tests."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nethical_runner._words import counted
from nethical_runner.audit.proofs import prove
from nethical_runner.audit.recorder import AuditReceipt
from nethical_runner.audit.verify import VerifyReport, verify


class AuditNotEnabled(Exception):
    """The spec asked about did not enable ``audit``."""


@dataclass(frozen=True)
class Judgement:
    passed: bool
    message: str
    properties: dict[str, Any]


@dataclass(frozen=True)
class AuditTrail:
    """The events one spec run appended, read back from the log they went to."""

    receipt: AuditReceipt

    @classmethod
    def of(cls, receipt: AuditReceipt | None, spec_path: Path) -> AuditTrail:
        """The trail of a run's ``receipt``; None (the spec at ``spec_path`` did not enable
        ``audit``) raises :class:`AuditNotEnabled`."""
        if receipt is None:
            raise AuditNotEnabled(
                f"{spec_path} does not enable the audit log (audit: {{enabled: true}})"
            )
        return cls(receipt)

    @property
    def directory(self) -> Path:
        return self.receipt.directory

    def verify(self) -> VerifyReport:
        """``audit verify`` of the whole log this run appended to."""
        return verify(self.directory)

    def events(self) -> list[dict[str, Any]]:
        """This run's events as stored in the log, in order."""
        first = self.receipt.first_index
        if first is None:
            return []
        leaves = self.verify().leaves[first : first + self.receipt.event_count]
        return [json.loads(leaf) for leaf in leaves]

    def prove(self, index: int) -> dict[str, Any]:
        """The inclusion proof of log event ``index`` (see ``audit prove``)."""
        return prove(self.directory, index)

    def judge(self) -> Judgement:
        """The log is intact, and this run's events are in it, committed by its head."""
        receipt = self.receipt
        props: dict[str, Any] = {"audit_log": str(self.directory)}
        report = self.verify()
        if not report.ok:
            lines = "\n".join(f"  {problem}" for problem in report.problems)
            appended = (
                ""
                if receipt.head
                else f" (this run's {counted(receipt.event_count, 'event')} were not appended)"
            )
            return Judgement(
                False, f"audit log {self.directory} is not intact{appended}:\n{lines}", props
            )
        if receipt.head is None or receipt.first_index is None:
            return Judgement(False, receipt.describe(), props)
        head, first, count = receipt.head, receipt.first_index, receipt.event_count
        kept = report.heads.get(head.sequence)
        if kept is None or kept.root != head.root:
            message = f"this run's tree head {head.sequence} ({head.describe()}) is not in the log"
            return Judgement(False, message, props)
        mine = [json.loads(leaf) for leaf in report.leaves[first : first + count]]
        if len(mine) != count or any(
            (e.get("run_id"), e.get("spec")) != (receipt.run_id, receipt.spec_name) for e in mine
        ):
            message = f"log events {first}-{first + count - 1} are not this run's events"
            return Judgement(False, message, props)
        if receipt.error:
            return Judgement(False, receipt.describe(), props)
        latest = report.latest
        assert latest is not None  # a log that verifies has a head
        # the head a later run can be verified against: `audit verify --trusted-root ROOT
        # --trusted-size TREE_SIZE` finds the log cut back behind it
        props.update(head=latest.sequence, tree_size=latest.tree_size, root=latest.root)
        props.update(events=count)
        return Judgement(
            True,
            f"audit log intact: {counted(latest.tree_size, 'event')} under "
            f"{counted(len(report.heads), 'tree head')}; "
            f"this run's {counted(count, 'event')} (log index {first}-{first + count - 1}) "
            f"{'is' if count == 1 else 'are'} committed by head {head.sequence}",
            props,
        )
