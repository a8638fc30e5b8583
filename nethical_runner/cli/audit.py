"""``nethical-runner audit verify|prove|check-proof``: the audit log from the command line.

Exit codes follow the rest of the program: 0 when the log verifies (or the proof holds), 1 when
it does not, 2 for input that cannot be used (an unreadable proof file, an event the log does
not hold, no trusted root given).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from nethical_runner.audit.formats import FormatError, TreeHead, read_head
from nethical_runner.audit.proofs import EventOutOfRange, ProofError, check_proof, prove
from nethical_runner.audit.signing import key_from_env, signature_valid
from nethical_runner.audit.verify import verify

EXIT_OK, EXIT_FAILED, EXIT_ERROR = 0, 1, 2


def add_audit_parser(commands: Any) -> None:
    """Add ``audit`` and its actions to the program's subcommands."""
    audit = commands.add_parser("audit", help="verify the audit log and prove events in it")
    actions = audit.add_subparsers(dest="audit_command", required=True, metavar="ACTION")

    check = actions.add_parser(
        "verify", help="check that an audit log is intact (exit 1 naming what is wrong)"
    )
    check.add_argument("directory", type=Path, metavar="DIR", help="the audit log folder")
    check.add_argument(
        "--trusted-head",
        type=Path,
        metavar="FILE",
        help="a tree head file kept elsewhere: the log must still contain it",
    )

    proof = actions.add_parser("prove", help="print the inclusion proof of one event as JSON")
    proof.add_argument("directory", type=Path, metavar="DIR", help="the audit log folder")
    proof.add_argument("--event", type=int, required=True, metavar="N", help="log index")

    offline = actions.add_parser(
        "check-proof", help="check an inclusion proof against a root you trust, offline"
    )
    offline.add_argument(
        "proof", metavar="PROOF", help="proof file from `audit prove`, - for stdin"
    )
    offline.add_argument("--root", metavar="HEX", help="trusted tree root (with --size)")
    offline.add_argument("--size", type=int, metavar="N", help="tree size of --root")
    offline.add_argument(
        "--head", type=Path, metavar="FILE", help="trusted tree head file (instead of --root)"
    )


def run_audit_command(args: argparse.Namespace) -> int:
    if args.audit_command == "verify":
        return _verify(args.directory, args.trusted_head)
    if args.audit_command == "prove":
        return _prove(args.directory, args.event)
    return _check_proof(args)


def _verify(directory: Path, trusted_path: Path | None) -> int:
    trusted = None
    if trusted_path is not None:
        try:
            trusted = read_head(trusted_path)
        except FormatError as error:
            return _error(f"--trusted-head {trusted_path}: {error.message}")
    report = verify(directory, trusted_head=trusted)
    print(report.render())
    return EXIT_OK if report.ok else EXIT_FAILED


def _prove(directory: Path, index: int) -> int:
    try:
        document = prove(directory, index)
    except ProofError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_ERROR if isinstance(error, EventOutOfRange) else EXIT_FAILED
    print(json.dumps(document, indent=2, sort_keys=True))
    return EXIT_OK


def _check_proof(args: argparse.Namespace) -> int:
    try:
        text = sys.stdin.read() if args.proof == "-" else Path(args.proof).read_text("utf-8")
        document = json.loads(text)
    except OSError as error:
        return _error(f"{args.proof}: cannot be read: {error.strerror}")
    except ValueError as error:
        return _error(f"{args.proof}: not valid JSON: {error}")
    trusted = _trusted_root(args)
    if isinstance(trusted, int):
        return trusted
    root, size = trusted
    try:
        outcome = check_proof(document, root=root, tree_size=size)
    except ProofError as error:
        return _error(str(error))
    print(outcome.message)
    return EXIT_OK if outcome.valid else EXIT_FAILED


def _trusted_root(args: argparse.Namespace) -> tuple[str, int] | int:
    """The root and size to check against, from ``--head`` or ``--root``/``--size``; an exit
    code when they are missing or the head's signature fails."""
    if args.head is not None:
        try:
            head: TreeHead = read_head(args.head)
        except FormatError as error:
            return _error(f"--head {args.head}: {error.message}")
        key = key_from_env()
        if key is not None and not signature_valid(head, key):
            print(f"proof invalid: --head {args.head} has a bad or no signature", file=sys.stderr)
            return EXIT_FAILED
        return head.root, head.tree_size
    if args.root is None or args.size is None:
        return _error("name the trusted tree head: --root HEX --size N, or --head FILE")
    return args.root, args.size


def _error(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return EXIT_ERROR
