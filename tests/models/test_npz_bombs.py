"""Model files whose archive headers lie about, or hide, what reading them costs: each is
refused from the zip directory and the ``.npy`` headers, before any array is allocated.

The bombs are written byte by byte in the test: a zip member whose deflate stream repeats one
compressed mebibyte of zeros, so a 1.5 GB member takes about 1.5 MB and no memory to build.
"""

from __future__ import annotations

import io
import json
import resource
import struct
import time
import zlib
from pathlib import Path

import numpy as np
import pytest
from numpy.lib import format as npy

from nethical_runner.models import ModelFileError, load_model
from nethical_runner.models.base import read_npz
from nethical_runner.models.logistic import LogisticModel

META = {"type": "logistic", "params": {}, "metadata": {}}
MIB = 1 << 20


def npy_header(dtype: str, shape: tuple[int, ...]) -> bytes:
    buffer = io.BytesIO()
    npy.write_array_header_1_0(buffer, {"descr": dtype, "fortran_order": False, "shape": shape})
    return buffer.getvalue()  # the magic string, version 1.0, then the header


def zeros_member(header: bytes, zero_mib: int) -> tuple[bytes, int, int]:
    """A raw deflate stream of ``header`` and ``zero_mib`` MiB of zeros, its CRC-32 and its
    expanded size. After a full flush the compressor starts afresh, so every mebibyte of zeros
    compresses to the same bytes: written once, repeated."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    head = compressor.compress(header) + compressor.flush(zlib.Z_FULL_FLUSH)
    zeros = bytes(MIB)
    block = compressor.compress(zeros) + compressor.flush(zlib.Z_FULL_FLUSH)
    assert compressor.compress(zeros) + compressor.flush(zlib.Z_FULL_FLUSH) == block
    tail = compressor.flush()
    crc = zlib.crc32(header)
    for _ in range(zero_mib):
        crc = zlib.crc32(zeros, crc)
    return head + block * zero_mib + tail, crc, len(header) + zero_mib * MIB


def write_zip(path: Path, members: list[tuple[str, bytes, int, int, int]]) -> Path:
    """A zip of (name, data, method, crc, expanded size) members, without zipfile's help."""
    local, central = b"", b""
    for name, data, method, crc, size in members:
        encoded = name.encode()
        central += struct.pack(
            "<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, 0, method, 0, 0x21, crc, len(data),
            size, len(encoded), 0, 0, 0, 0, 0, len(local),
        ) + encoded  # fmt: skip
        local += struct.pack(
            "<IHHHHHIIIHH", 0x04034B50, 20, 0, method, 0, 0x21, crc, len(data), size,
            len(encoded), 0,
        ) + encoded + data  # fmt: skip
    end = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, len(members), len(members), len(central),
                      len(local), 0)  # fmt: skip
    path.write_bytes(local + central + end)
    return path


def stored(name: str, data: bytes) -> tuple[str, bytes, int, int, int]:
    return name, data, 0, zlib.crc32(data), len(data)


def meta_member() -> tuple[str, bytes, int, int, int]:
    text = json.dumps(META).encode()
    return stored("__meta__.npy", npy_header("|u1", (len(text),)) + text)


def refused_quickly(path: Path) -> str:
    started, rss = time.monotonic(), resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with pytest.raises(ModelFileError) as caught:
        read_npz(path)
    assert time.monotonic() - started < 2
    assert (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss) / 1024 < 64
    return str(caught.value).replace(f"{path}: ", "m.npz: ", 1)


def test_a_small_file_with_a_huge_zero_member_is_refused_from_the_directory(
    tmp_path: Path,
) -> None:
    """It cost 1.5 GB of memory and 10 s before it was refused."""
    zero_mib = 1430  # 1.5 GB of float64 zeros
    data, crc, size = zeros_member(npy_header("<f8", (zero_mib * MIB // 8,)), zero_mib)
    meta = meta_member()
    path = write_zip(tmp_path / "m.npz", [meta, ("coef.npy", data, 8, crc, size)])
    assert path.stat().st_size < 2 * MIB
    found = refused_quickly(path)
    total = size + meta[4]
    assert found.startswith(f"m.npz: not a model file: its members expand to {total} bytes")
    assert found.endswith(f"for a file of {path.stat().st_size} bytes")


def test_an_array_header_claiming_more_than_its_member_holds_is_refused(tmp_path: Path) -> None:
    """numpy allocated the array the header declared (here 8 TiB) before reading any of it."""
    member = stored("coef.npy", npy_header("<f8", (1 << 40,)) + bytes(64))
    path = write_zip(tmp_path / "m.npz", [meta_member(), member])
    assert refused_quickly(path) == (
        "m.npz: not a model file: member 'coef.npy' declares 8796093022208 bytes of <f8 "
        "(shape (1099511627776,)) but holds 64"
    )


@pytest.mark.parametrize(
    ("dtype", "message"),
    [
        ("|O", "member 'coef.npy' holds dtype object, which is not loaded"),
        ("|V0", "member 'coef.npy' holds dtype |V0, which is not loaded"),
        ("<U3", "member 'coef.npy' holds dtype <U3, which is not loaded"),
    ],
)
def test_an_array_of_a_dtype_no_model_stores_is_refused(
    tmp_path: Path, dtype: str, message: str
) -> None:
    member = stored("coef.npy", npy_header(dtype, (10**12,)))
    path = write_zip(tmp_path / "m.npz", [meta_member(), member])
    assert refused_quickly(path) == f"m.npz: not a model file: {message}"


def test_members_that_are_not_arrays_are_refused(tmp_path: Path) -> None:
    path = write_zip(tmp_path / "m.npz", [meta_member(), stored("notes.txt", b"x" * 100)])
    assert (
        refused_quickly(path) == "m.npz: not a model file: member 'notes.txt' is not an .npy array"
    )
    path = write_zip(tmp_path / "m.npz", [meta_member(), stored("coef.npy", b"x" * 100)])
    assert refused_quickly(path).startswith(
        "m.npz: not a model file: member 'coef.npy': the magic string is not correct"
    )


def test_an_npy_format_version_numpy_writes_only_for_unicode_names_is_refused(
    tmp_path: Path,
) -> None:
    text = npy_header("<f8", (1,))[10:]  # after the magic, version and 2-byte length
    member = stored("coef.npy", npy.magic(3, 0) + struct.pack("<I", len(text)) + text + bytes(8))
    path = write_zip(tmp_path / "m.npz", [meta_member(), member])
    assert refused_quickly(path) == (
        "m.npz: not a model file: member 'coef.npy' is in .npy format version 3.0, which is "
        "not read"
    )


def test_a_saved_model_still_loads(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 3))
    y = (X[:, 0] > 0).astype(np.int64)
    model = LogisticModel().fit(X, y, epochs=2, batch_size=32, seed=0)
    model.save(tmp_path / "m.npz", metadata={"k": "v"})
    loaded, metadata = load_model(tmp_path / "m.npz")
    assert metadata == {"k": "v"}
    np.testing.assert_array_equal(loaded.predict_proba(X), model.predict_proba(X))
    loaded, _ = load_model(model.to_npz_bytes())
    np.testing.assert_array_equal(loaded.predict_proba(X), model.predict_proba(X))
