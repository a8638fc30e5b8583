"""The Kaggle fetcher against the real ``kaggle`` client and a fake Kaggle on 127.0.0.1.

Nothing inside the client is patched: the environment alone sends it to ``FakeKaggle`` (see
``kaggle_server.py`` for why that takes a proxy variable), with made-up credentials and HOME and
KAGGLE_CONFIG_DIR in temp folders, so the developer's own Kaggle setup is neither read nor
touched.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import signal
import stat
import subprocess
import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from support.kaggle_server import (
    DOWNLOAD_PATH,
    INTROSPECT_PATH,
    bomb_zip,
    duplicate_member_zip,
    lying_zip,
    many_files_zip,
    special_file_zip,
    symlink_zip,
    unused_port,
    zip_bytes,
)

from conftest import FAKE_KEY, USERNAME, Serve, sweep
from nethical_runner.data.kaggle import DataUnavailable, fetch_dataset, find_file, have_credentials

FAKE_TOKEN = "fake-token-fedcba9876543210"
BASIC = base64.b64encode(f"{USERNAME}:{FAKE_KEY}".encode()).decode()
FILES = {"train.csv": b"a,b\n1,2\n3,4\n", "nested/labels.csv": b"label\n1\n0\n"}
MIB = 1024 * 1024


def expect_unavailable(
    reason: str, dataset: str = "owner/data-set", **kwargs: object
) -> DataUnavailable:
    kwargs.setdefault("version", 1)
    with pytest.raises(DataUnavailable) as caught:
        fetch_dataset(dataset, **kwargs)  # type: ignore[arg-type]
    error = caught.value
    assert error.reason == reason, str(error)
    for secret in (FAKE_KEY, FAKE_TOKEN, BASIC):
        assert secret not in str(error) and secret not in repr(error.args)
    return error


def leftovers(slug_folder: Path) -> list[str]:
    return sorted(path.name for path in slug_folder.iterdir()) if slug_folder.exists() else []


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_download_is_extracted_and_marked_complete(env: Path, serve: Serve) -> None:
    server = serve(archive=zip_bytes(FILES))

    entry = fetch_dataset("owner/data-set", version=2, cache_dir=env)

    assert entry == env / "owner" / "data-set" / "2"
    for name, data in FILES.items():
        assert (entry / name).read_bytes() == data
    assert json.loads((entry / ".complete").read_text()) == {
        "dataset": "owner/data-set",
        "version": 2,
        "files": {
            name: {"sha256": sha256(data), "size": len(data)} for name, data in FILES.items()
        },
    }
    post, get = server.requests
    assert (post.method, post.path) == ("POST", DOWNLOAD_PATH)
    assert post.json() == {
        "ownerSlug": "owner",
        "datasetSlug": "data-set",
        "datasetVersionNumber": 2,
    }
    assert post.headers["Authorization"] == f"Basic {BASIC}"
    assert (get.method, get.path) == ("GET", "/download/owner/data-set/archive.zip")
    assert leftovers(entry.parent) == ["2"]
    assert find_file(entry, "labels.csv") == entry / "nested" / "labels.csv"
    assert find_file(entry, "nested/labels.csv") == entry / "nested" / "labels.csv"


def test_uncompressed_single_file_becomes_the_only_file(env: Path, serve: Serve) -> None:
    server = serve(archive=b"x,y\n1,2\n", file_name="data.csv", content_type="text/csv")

    entry = fetch_dataset("owner/one-file", version=None, cache_dir=env)

    assert entry == env / "owner" / "one-file" / "latest"
    assert sorted(path.name for path in entry.iterdir()) == [".complete", "data.csv"]
    assert (entry / "data.csv").read_bytes() == b"x,y\n1,2\n"
    assert server.requests[0].json() == {"ownerSlug": "owner", "datasetSlug": "one-file"}


def test_cache_hit_needs_neither_network_nor_client(
    env: Path, serve: Serve, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = serve(archive=zip_bytes(FILES))
    entry = fetch_dataset("owner/data-set", version=3, cache_dir=env)
    seen = len(server.requests)
    server.stop()
    monkeypatch.delenv("KAGGLE_USERNAME")
    monkeypatch.delenv("KAGGLE_KEY")
    monkeypatch.setitem(sys.modules, "kaggle", None)

    assert fetch_dataset("owner/data-set", version=3, cache_dir=env) == entry
    assert len(server.requests) == seen


def test_entry_without_marker_is_fetched_again(env: Path, serve: Serve) -> None:
    stale = env / "owner" / "data-set" / "1"
    stale.mkdir(parents=True)
    (stale / "train.csv").write_bytes(b"half written")
    serve(archive=zip_bytes(FILES))

    entry = fetch_dataset("owner/data-set", version=1, cache_dir=env)

    assert entry == stale
    assert (entry / "train.csv").read_bytes() == FILES["train.csv"]
    assert (entry / ".complete").is_file()
    assert leftovers(entry.parent) == ["1"]


def test_unknown_dataset_is_not_found(env: Path, serve: Serve) -> None:
    serve(mode="not_found")
    expect_unavailable("not_found", cache_dir=env)


def test_rejected_credentials_say_so(env: Path, serve: Serve) -> None:
    serve(mode="unauthorized")
    error = expect_unavailable("no_credentials", cache_dir=env)
    assert "rejected" in error.message


@pytest.mark.parametrize("how", ["unused port", "server stopped"])
def test_refused_connection_is_offline(
    env: Path, serve: Serve, monkeypatch: pytest.MonkeyPatch, how: str
) -> None:
    if how == "server stopped":
        serve().stop()
    else:
        proxy = f"http://127.0.0.1:{unused_port()}"
        monkeypatch.setenv("KAGGLE_API_ENVIRONMENT", "LOCALHOST")
        monkeypatch.setenv("http_proxy", proxy)
        monkeypatch.setenv("HTTP_PROXY", proxy)
    expect_unavailable("offline", cache_dir=env)
    assert leftovers(env / "owner" / "data-set") == []


def test_silent_server_times_out(
    env: Path, serve: Serve, child_processes: list[subprocess.Popen[bytes]]
) -> None:
    """The limit fires and the client, still waiting for an answer, is killed: asserted on what
    happened, not on how long a busy machine took."""
    server = serve(mode="hang")

    error = expect_unavailable("timeout", cache_dir=env, timeout_s=1.0)

    assert error.message == "Kaggle download of owner/data-set did not finish within 1 s"
    assert [child.returncode for child in child_processes] == [-signal.SIGKILL]
    assert server.paths() == [DOWNLOAD_PATH]
    assert leftovers(env / "owner" / "data-set") == []


def test_missing_credentials_make_no_request(
    env: Path, serve: Serve, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = serve(archive=zip_bytes(FILES))
    monkeypatch.delenv("KAGGLE_USERNAME")
    monkeypatch.delenv("KAGGLE_KEY")

    error = expect_unavailable("no_credentials", cache_dir=env)

    assert "KAGGLE_USERNAME" in error.message, "decided before starting the client"
    assert server.requests == []
    assert list((env.parent / "home").iterdir()) == []


# Each archive, built given the folder it must not reach, and the words that name its defect.
MALICIOUS: dict[str, tuple[Callable[[Path], bytes], str]] = {
    "traversal": (lambda outside: zip_bytes({"../" * 6 + "escaped.txt": b"x"}), "escapes"),
    "absolute path": (lambda outside: zip_bytes({f"{outside}/absolute.txt": b"x"}), "escapes"),
    "symlink": (lambda outside: symlink_zip(str(outside)), "is a link"),
    "zip bomb": (lambda outside: bomb_zip(8 * MIB), "would unpack to"),
    "lying sizes": (lambda outside: lying_zip(real_size=8 * MIB, claimed_size=10), "Bad CRC"),
    "backslash traversal": (lambda outside: zip_bytes({"..\\..\\escaped.txt": b"x"}), "escapes"),
    "drive letter": (lambda outside: zip_bytes({"C:/escaped.txt": b"x"}), "escapes"),
    "fifo": (lambda outside: special_file_zip("pipe.txt", stat.S_IFIFO), "is a link or device"),
    "device": (lambda outside: special_file_zip("dev.txt", stat.S_IFCHR), "is a link or device"),
    "marker member": (lambda outside: zip_bytes({".complete": b"{}"}), "is not usable"),
    "duplicate member": (lambda outside: duplicate_member_zip("data.txt"), "File exists"),
    "many empty files": (lambda outside: many_files_zip(2000), "would unpack to"),
}


@pytest.mark.parametrize(
    "kind", sweep(MALICIOUS, default={"traversal", "symlink", "zip bomb", "many empty files"})
)
def test_malicious_archive_is_refused(env: Path, serve: Serve, kind: str) -> None:
    outside = env.parent / "outside"
    build, said = MALICIOUS[kind]
    serve(archive=build(outside))

    error = expect_unavailable("bad_archive", cache_dir=env, max_extracted_bytes=MIB)

    assert said in error.message
    assert list(outside.iterdir()) == []
    assert not [path for path in env.parent.rglob("*") if path.name.endswith((".txt", ".bin"))]
    assert leftovers(env / "owner" / "data-set") == []


@pytest.mark.parametrize(
    ("mode", "cut", "said"),
    sweep(
        [
            ("truncated", False, "ended early"),
            ("short_header", False, "not a valid zip"),
            ("ok", True, "not a valid zip"),
        ],
        default={("ok", True, "not a valid zip")},
    ),
    ids=["connection drops", "content-length too small", "archive cut short"],
)
def test_truncated_download_fails_clearly(
    env: Path, serve: Serve, mode: str, cut: bool, said: str
) -> None:
    archive = zip_bytes({"train.csv": os.urandom(256 * 1024)})
    serve(archive=archive[: len(archive) // 2] if cut else archive, mode=mode)

    error = expect_unavailable("bad_archive", cache_dir=env)

    assert said in error.message
    assert leftovers(env / "owner" / "data-set") == []


def test_credentials_are_redacted_and_never_stored(env: Path, serve: Serve) -> None:
    serve(mode="error_echo")
    error = expect_unavailable("client_error", cache_dir=env)
    assert "***" in error.message

    serve(archive=zip_bytes(FILES))
    fetch_dataset("owner/data-set", version=1, cache_dir=env)
    for path in [*env.rglob("*"), *(env.parent / "home").rglob("*")]:
        if path.is_file():
            content = path.read_bytes()
            assert FAKE_KEY.encode() not in content and BASIC.encode() not in content, path


def test_access_token_is_introspected_then_sent_as_bearer(
    env: Path, serve: Serve, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("KAGGLE_USERNAME")
    monkeypatch.delenv("KAGGLE_KEY")
    monkeypatch.setenv("KAGGLE_API_TOKEN", FAKE_TOKEN)
    server = serve(archive=zip_bytes(FILES), token=FAKE_TOKEN)

    entry = fetch_dataset("owner/data-set", version=1, cache_dir=env)

    paths = server.paths()
    assert paths[0] == INTROSPECT_PATH and DOWNLOAD_PATH in paths
    download = next(request for request in server.requests if request.path == DOWNLOAD_PATH)
    assert download.headers["Authorization"] == f"Bearer {FAKE_TOKEN}"
    files = [path for path in entry.rglob("*") if path.is_file()]
    assert files and all(FAKE_TOKEN.encode() not in path.read_bytes() for path in files)


def test_home_is_left_alone_without_kaggle_config_dir(
    env: Path, serve: Serve, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("KAGGLE_CONFIG_DIR")
    serve(archive=zip_bytes(FILES))

    fetch_dataset("owner/data-set", version=1, cache_dir=env)

    assert list((env.parent / "home").iterdir()) == []


def test_concurrent_fetches_share_one_entry(env: Path, serve: Serve) -> None:
    serve(archive=zip_bytes(FILES))

    with ThreadPoolExecutor(2) as pool:
        jobs = [
            pool.submit(fetch_dataset, "owner/data-set", version=1, cache_dir=env) for _ in range(2)
        ]
        entries = {job.result() for job in jobs}

    assert entries == {env / "owner" / "data-set" / "1"}
    assert leftovers(env / "owner" / "data-set") == ["1"]
    assert (env / "owner" / "data-set" / "1" / "train.csv").read_bytes() == FILES["train.csv"]


def test_find_file_names_what_exists(tmp_path: Path) -> None:
    for name in ("a/x.csv", "b/x.csv", "y.csv", ".complete"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("1")

    assert find_file(tmp_path, "y.csv") == tmp_path / "y.csv"
    assert find_file(tmp_path, "a/x.csv") == tmp_path / "a" / "x.csv"
    for wanted, shown in [("x.csv", "a/x.csv, b/x.csv"), ("z.csv", "y.csv"), (".complete", "")]:
        with pytest.raises(DataUnavailable) as caught:
            find_file(tmp_path, wanted)
        assert caught.value.reason == "missing_file"
        assert shown in caught.value.message and ".complete," not in caught.value.message


@dataclass(frozen=True)
class Credentials:
    """One way of (not) having credentials: variables and files, ``{tmp}`` is the test folder."""

    expected: bool
    env: dict[str, str] = field(default_factory=dict)
    files: dict[str, str] = field(default_factory=dict)
    config_dir_set: bool = True
    # Token and OAuth setups make the client call Kaggle while authenticating.
    client_decides_offline: bool = True


KEY_JSON = '{"username": "u", "key": "k"}'
CREDENTIALS = {
    "none": Credentials(False),
    "env username and key": Credentials(True, env={"KAGGLE_USERNAME": "u", "KAGGLE_KEY": "k"}),
    "kaggle.json in KAGGLE_CONFIG_DIR": Credentials(
        True, files={"kaggle-config/kaggle.json": KEY_JSON}
    ),
    "kaggle.json in ~/.kaggle": Credentials(
        True, files={"home/.kaggle/kaggle.json": KEY_JSON}, config_dir_set=False
    ),
    "kaggle.json in XDG config": Credentials(
        True, files={"home/.config/kaggle/kaggle.json": KEY_JSON}, config_dir_set=False
    ),
    "kaggle.json without key": Credentials(
        False, files={"kaggle-config/kaggle.json": '{"username": "u"}'}
    ),
    "KAGGLE_API_TOKEN names an empty file": Credentials(
        False,
        env={"KAGGLE_API_TOKEN": "{tmp}/kaggle-config/token"},
        files={"kaggle-config/token": "", "home/.kaggle/access_token": "never read"},
    ),
    "KAGGLE_API_TOKEN": Credentials(
        True, env={"KAGGLE_API_TOKEN": "t"}, client_decides_offline=False
    ),
    "~/.kaggle/access_token": Credentials(
        True, files={"home/.kaggle/access_token": "t\n"}, client_decides_offline=False
    ),
    "~/.kaggle/credentials.json": Credentials(
        True,
        files={"home/.kaggle/credentials.json": '{"refresh_token": "r"}'},
        client_decides_offline=False,
    ),
}


@pytest.mark.parametrize("name", CREDENTIALS)
def test_have_credentials_mirrors_the_client(
    env: Path, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    setup = CREDENTIALS[name]
    monkeypatch.delenv("KAGGLE_USERNAME")
    monkeypatch.delenv("KAGGLE_KEY")
    if not setup.config_dir_set:
        monkeypatch.delenv("KAGGLE_CONFIG_DIR")
    for variable, value in setup.env.items():
        monkeypatch.setenv(variable, value.format(tmp=env.parent))
    for relative, text in setup.files.items():
        (env.parent / relative).parent.mkdir(parents=True, exist_ok=True)
        (env.parent / relative).write_text(text)

    assert have_credentials() is setup.expected
    if setup.client_decides_offline:
        authenticate = (
            "from kaggle.api.kaggle_api_extended import KaggleApi\nKaggleApi().authenticate()"
        )
        client = subprocess.run(
            [sys.executable, "-c", authenticate], cwd=env.parent, capture_output=True, timeout=30
        )
        assert (client.returncode == 0) is setup.expected, client.stdout.decode()


def test_an_archive_in_an_unreadable_compression_method_is_refused(tmp_path: Path) -> None:
    import io
    import struct
    import zipfile

    from nethical_runner.data import kaggle

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as bundle:
        bundle.writestr("a.csv", b"x,label\n1,0\n")
    data = bytearray(buffer.getvalue())
    for signature, offset in ((b"PK\x03\x04", 8), (b"PK\x01\x02", 10)):  # local, central
        at = data.find(signature) + offset
        data[at : at + 2] = struct.pack("<H", 99)  # a method number zipfile does not know
    (tmp_path / "a.zip").write_bytes(bytes(data))
    with pytest.raises(DataUnavailable, match="compression method this Python cannot read"):
        kaggle._unzip(tmp_path / "a.zip", tmp_path / "out", 10**9, "owner/data-set")
    assert not (tmp_path / "out" / "a.csv").exists()
