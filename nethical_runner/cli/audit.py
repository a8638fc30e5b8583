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

from pydantic import ValidationError

from nethical_runner.audit.formats import (
    MAX_CHUNK_BYTES,
    FormatError,
    PreviousHead,
    TreeHead,
    read_bounded,
    read_head,
)
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
    check.add_argument(
        "--trusted-root",
        metavar="HEX",
        help="root of a head kept elsewhere (results.json records it), with --trusted-size",
    )
    check.add_argument("--trusted-size", type=int, metavar="N", help="tree size of --trusted-root")

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
        return _verify(args)
    if args.audit_command == "prove":
        return _prove(args.directory, args.event)
    return _check_proof(args)


def _verify(args: argparse.Namespace) -> int:
    trusted = _trusted_head(args)
    if isinstance(trusted, int):
        return trusted
    report = verify(args.directory, trusted_head=trusted)
    print(report.render())
    return EXIT_OK if report.ok else EXIT_FAILED


def _trusted_head(args: argparse.Namespace) -> TreeHead | PreviousHead | int | None:
    """The head the log must still hold, from ``--trusted-head`` or ``--trusted-root`` and
    ``--trusted-size``; an exit code when they cannot be used."""
    if args.trusted_head is not None:
        if args.trusted_root is not None or args.trusted_size is not None:
            return _error("give --trusted-head FILE or --trusted-root/--trusted-size, not both")
        try:
            return read_head(args.trusted_head)
        except FormatError as error:
            return _error(f"--trusted-head {args.trusted_head}: {error.message}")
    if args.trusted_root is None and args.trusted_size is None:
        return None
    if args.trusted_root is None or args.trusted_size is None:
        return _error("--trusted-root and --trusted-size go together")
    try:
        return PreviousHead(tree_size=args.trusted_size, root=args.trusted_root)
    except ValidationError:
        return _error(
            "--trusted-root must be 64 lowercase hex digits and --trusted-size a count "
            "(the root and tree_size of a head, as results.json records them)"
        )


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
        if args.proof == "-":
            text: str | bytes = sys.stdin.read(MAX_CHUNK_BYTES)
        else:
            text = read_bounded(Path(args.proof), MAX_CHUNK_BYTES)  # a regular file, bounded
        document = json.loads(text)
    except FormatError as error:
        return _error(f"{args.proof}: {error.message}")
    except OSError as error:
        return _error(f"{args.proof}: cannot be read: {error.strerror}")
    except (ValueError, RecursionError) as error:
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
