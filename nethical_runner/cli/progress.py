"""Progress lines of ``train`` and ``run`` on stderr, so that stdout stays the result.

On a terminal an epoch status is one line rewritten in place (carriage return, erase to the
end of the line) and erased before the next lasting line; anywhere else (a CI log, a file, a
pipe) there is no status at all, only the start and end lines of each cohort.
"""

from __future__ import annotations

import sys
from typing import TextIO

from nethical_runner.run.progress import ProgressObserver

PREFIX = "nethical-runner: "
_ERASE_LINE = "\r\x1b[K"


class StreamProgress:
    """A :class:`~nethical_runner.run.progress.ProgressSink` writing to ``stream``."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.on_terminal = _isatty(stream)
        self._status_shown = False

    def line(self, text: str) -> None:
        self._erase_status()
        self.stream.write(f"{PREFIX}{text}\n")
        self.stream.flush()

    def status(self, text: str) -> None:
        if not self.on_terminal:
            return
        self.stream.write(f"{_ERASE_LINE}{PREFIX}{text}")
        self.stream.flush()
        self._status_shown = True

    def close(self) -> None:
        """Erase a status still shown, so what is printed next starts on a clean line."""
        self._erase_status()
        self.stream.flush()

    def _erase_status(self) -> None:
        if self._status_shown:
            self.stream.write(_ERASE_LINE)
            self._status_shown = False


def stderr_progress() -> tuple[ProgressObserver, StreamProgress]:
    sink = StreamProgress(sys.stderr)
    return ProgressObserver(sink), sink


def _isatty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # a closed or unusual stream
        return False
