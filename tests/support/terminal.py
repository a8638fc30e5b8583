"""A child process's output read through a pseudo-terminal, for tests of what only a terminal
shows (progress statuses rewritten in place)."""

from __future__ import annotations

import os


def read_until_closed(leader: int) -> bytes:
    """Everything written to the pseudo-terminal whose ``leader`` end this is, until the child
    closes its end (Linux then raises ``EIO`` rather than returning an empty read)."""
    shown = b""
    while True:
        try:
            chunk = os.read(leader, 4096)
        except OSError:  # the child closed its end
            return shown
        if not chunk:
            return shown
        shown += chunk
