"""The bytes of a table file, decompressed only when the spec says so and never past a bound.

pandas picks a decompressor from the file name: a ``.csv.gz`` of a few hundred kilobytes can
expand to gigabytes, all parsed into memory, and the header check saw only compressed bytes. So
the content is judged by its first bytes, not its name: compressed content is read only when
the spec declares that compression (``compression: gzip``), and then never past
:data:`MAX_DECOMPRESSED_BYTES`, the bound an unpacked Kaggle archive is held to. A declared
file is decompressed once, counting, before anything parses it, so a bomb costs its
decompression time and a buffer of memory, never its expansion.
"""

from __future__ import annotations

import bz2
import gzip
import io
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from nethical_runner.data.errors import DataError
from nethical_runner.data.kaggle import MAX_EXTRACTED_BYTES

# Read at call time, not bound as a default, so that a test can lower it.
MAX_DECOMPRESSED_BYTES = MAX_EXTRACTED_BYTES
_CHUNK = 1 << 20

# Leading bytes of each format; bz2's include the first block's (or the end of stream's) magic
# so that a plain file starting "BZh9" is not mistaken for one.
_SIGNATURES: tuple[tuple[str, tuple[bytes, ...]], ...] = (
    ("gzip", (b"\x1f\x8b",)),
    (
        "bz2",
        tuple(b"BZh" + bytes([d]) + m for d in b"123456789" for m in (b"1AY&SY", b"\x17rE8P\x90")),
    ),
    ("xz", (b"\xfd7zXZ\x00",)),
    ("zstd", (b"\x28\xb5\x2f\xfd",)),
    ("zip", (b"PK\x03\x04", b"PK\x05\x06")),
)
_OPENERS: dict[str, Callable[[Path], io.BufferedIOBase]] = {
    "gzip": gzip.GzipFile,
    "bz2": bz2.BZ2File,
}
_DECOMPRESSION_ERRORS = (OSError, EOFError, zlib.error)  # bz2 and gzip raise OSError subclasses


def detect(path: Path) -> str:
    """``none`` or the compression format the file's first bytes show."""
    with path.open("rb") as handle:
        head = handle.read(10)
    for name, signatures in _SIGNATURES:
        if head.startswith(signatures):
            return name
    return "none"


@dataclass(frozen=True)
class TableFile:
    """A table file with its declared compression; ``shown`` names it in messages."""

    path: Path
    compression: str
    shown: str

    def check(self, *, read_through: bool) -> None:
        """Refuse content the declaration does not cover. With ``read_through``, a compressed
        file is also decompressed once without keeping anything, so that a bomb is refused
        before pandas holds any of it; a reader that keeps only a chunk at a time needs no
        such pass, since the bound stops its stream."""
        try:
            found = detect(self.path)
        except FileNotFoundError:
            raise DataError(f"{self.shown}: file not found") from None
        if found == self.compression:
            if found != "none" and read_through:
                with self.open() as handle:
                    while handle.read(_CHUNK):
                        pass
            return
        if self.compression != "none":
            seen = "not compressed" if found == "none" else _described(found)
            raise DataError(
                f"{self.shown}: compression {self.compression} is declared, but the file is {seen}"
            )
        if found in _OPENERS:
            raise DataError(
                f"{self.shown}: the file is {found}-compressed; set data.*.compression: {found} "
                "to read it"
            )
        raise DataError(
            f"{self.shown}: the file is {_described(found)}, which is not read; decompress it, "
            f"or compress it with {' or '.join(_OPENERS)}"
        )

    @contextmanager
    def open(self) -> Iterator[IO[bytes]]:
        """The file's bytes, decompressed as declared; reading past the bound is an error."""
        if self.compression == "none":
            with self.path.open("rb") as handle:
                yield handle
            return
        raw = _Bounded(_OPENERS[self.compression](self.path), self)
        with io.BufferedReader(raw, buffer_size=_CHUNK) as handle:
            yield handle


def _described(found: str) -> str:
    return "a zip archive" if found == "zip" else f"{found}-compressed"


class _Bounded(io.RawIOBase):
    """A decompressing reader that fails once more than the bound has come out of it, and
    turns a corrupt stream into a :class:`DataError` naming the file."""

    def __init__(self, inner: io.BufferedIOBase, table: TableFile) -> None:
        self._inner = inner
        self._table = table
        self._produced = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        try:
            count = self._inner.readinto(buffer)
        except _DECOMPRESSION_ERRORS as error:
            detail = " ".join(str(error).split())
            raise DataError(
                f"{self._table.shown}: cannot be decompressed as {self._table.compression}: "
                f"{detail}"
            ) from None
        self._produced += count
        limit = MAX_DECOMPRESSED_BYTES
        if self._produced > limit:
            raise DataError(
                f"{self._table.shown}: decompresses to more than {limit} bytes, the limit for "
                "extracted data"
            )
        return int(count)

    def close(self) -> None:
        self._inner.close()
        super().close()
