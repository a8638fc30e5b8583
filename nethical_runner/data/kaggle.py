"""Fetch a Kaggle dataset into a local cache through the official ``kaggle`` client.

A spec names a dataset; training must not depend on the network once the data has been seen, so
every dataset lands in ``<cache_dir>/<owner>/<slug>/<version or "latest">/`` and is served from
there afterwards. An entry counts only if it holds the ``.complete`` marker, and the marker is
written inside a private temp folder before that folder is renamed into place: whatever is visible
under the entry's name is complete, and a crash leaves at most a hidden temp folder behind.
``latest`` is cached like any version, so pin a version when results must be reproducible.

The client itself runs in a child Python process, for reasons found in kaggle 2.2.5:

* Its HTTP calls carry no timeout, and a thread blocked in ``recv`` cannot be stopped: it would
  keep running, and keep writing into the cache folder, after we gave up. A child is killed.
* ``import kaggle`` authenticates at once. With ``KAGGLE_API_TOKEN``, an ``access_token`` file or
  OAuth credentials that means a network call during the import; without credentials it prints
  help to stdout and calls ``exit(1)`` (swallowed by this release, fatal in older ones).
* The import freezes the config folder and the endpoint (``KAGGLE_API_ENVIRONMENT``) for the
  life of the process and creates the config folder, in the user's home when
  ``KAGGLE_CONFIG_DIR`` is unset. A fresh child per fetch sees the current environment, and when
  neither ``KAGGLE_CONFIG_DIR`` nor the default folder exists the child is pointed at an empty
  folder of its own: nothing was there to read, so nothing changes except that home stays clean.

The parent process never imports the client, so a cache hit works where it is not installed.
The download skips the client's unzip; the archive is unpacked here, refusing anything that
would land outside the entry and anything larger than ``max_extracted_bytes``. The download
itself is held to the same size by the child's file size limit (``RLIMIT_FSIZE``): a server that
sends an endless body would otherwise fill the disk until the time limit.
"""

from __future__ import annotations

import base64
import email.message
import errno
import hashlib
import json
import os
import re
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
import uuid
import zipfile
import zlib
from pathlib import Path, PurePosixPath
from typing import Any, Literal, get_args
from urllib.parse import urlsplit

from nethical_runner._escape import brief, clip, printable
from nethical_runner._files import atomic_write_json

Reason = Literal[
    "no_credentials",
    "offline",
    "not_found",
    "timeout",
    "bad_archive",
    "client_error",
    "missing_file",
]
_REASONS: frozenset[str] = frozenset(get_args(Reason))

MARKER = ".complete"
_NAME_PART = r"[A-Za-z0-9][A-Za-z0-9_-]*"
_DATASET_REF = re.compile(rf"({_NAME_PART})/({_NAME_PART})")
_CHUNK = 1024 * 1024
# What a dataset may unpack to; compressed table files are held to the same bound when read.
MAX_EXTRACTED_BYTES = 2 * 1024**3
_MEMBER_COST = 4096  # what a file costs on disk however small it is: one block
# One resumed retry rides out a dropped connection; the client's default of five retries with
# exponential back-off would sleep for a minute before reporting anything.
_DOWNLOAD_RETRIES = 1
_LEFTOVER_AGE_S = 24 * 3600
# The child loads this file by path: importing it through its package would first run
# ``nethical_runner.data``, whose dependencies cost a second per fetch and are not needed here.
_CHILD_CODE = (
    "import importlib.util, sys\n"
    "spec = importlib.util.spec_from_file_location('nethical_kaggle_child', sys.argv[1])\n"
    "module = importlib.util.module_from_spec(spec)\n"
    "spec.loader.exec_module(module)\n"
    "sys.exit(module._child_main(sys.argv[2:]))\n"
)


class DataUnavailable(Exception):
    """The dataset cannot be provided; ``reason`` is for programs, ``message`` for people.

    Messages pass through credential redaction here, so no caller can leak a key by formatting
    an exception from the client into one.
    """

    def __init__(self, reason: Reason, message: str) -> None:
        self.reason: Reason = reason
        self.message = _redact(message)
        super().__init__(reason, self.message)

    def __str__(self) -> str:
        return f"{self.reason}: {self.message}"


# --- credentials, read where kaggle 2.2.5 reads them --------------------------------------------


def _read_json(path: Path) -> dict[str, Any]:
    try:
        loaded = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return loaded if isinstance(loaded, dict) else {}


def _read_token_file(path: str | Path) -> str | None:
    try:
        text = Path(path).read_text(encoding="utf-8").strip()
    except (OSError, ValueError):
        return None
    return text or None


def _home_kaggle() -> Path:
    return Path(os.path.expanduser("~/.kaggle"))


def _config_dir() -> Path:
    """Where the client looks for ``kaggle.json`` (``KaggleApi.config_dir``)."""
    configured = os.environ.get("KAGGLE_CONFIG_DIR")
    if configured:
        return Path(configured)
    legacy = _home_kaggle()
    if sys.platform.startswith("linux") and not legacy.exists():
        xdg = os.environ.get("XDG_CONFIG_HOME") or os.path.expanduser("~/.config")
        return Path(xdg) / "kaggle"
    return legacy


def _access_token() -> str | None:
    """The token ``kagglesdk.kaggle_env.get_access_token_from_env`` would pick.

    A ``KAGGLE_API_TOKEN`` naming an empty file ends the search there, as it does in the client.
    """
    in_notebook = os.environ.get("KAGGLE_KERNEL_RUN_TYPE") is not None
    if in_notebook and os.environ.get("KAGGLE_DATA_PROXY_URL") is not None:
        token = _read_token_file(os.environ.get("KAGGLE_API_V1_TOKEN") or "")
        if token:
            return token
    value = os.environ.get("KAGGLE_API_TOKEN")
    if value:
        return _read_token_file(value) if Path(value).exists() else value
    for name in ("access_token", "access_token.txt"):
        token = _read_token_file(_home_kaggle() / name)
        if token:
            return token
    return None


def _api_key() -> tuple[str, str] | None:
    """Username and key from ``kaggle.json``, each overridden by its environment variable."""
    config = _read_json(_config_dir() / "kaggle.json")
    username = os.environ.get("KAGGLE_USERNAME", config.get("username"))
    key = os.environ.get("KAGGLE_KEY", config.get("key"))
    if isinstance(username, str) and isinstance(key, str) and username and key:
        return username, key
    return None


def _oauth_credentials() -> dict[str, Any]:
    return _read_json(_home_kaggle() / "credentials.json")


def have_credentials() -> bool:
    """Whether the client would find credentials, decided without importing it.

    Order as in ``KaggleApi.authenticate``: access token, legacy username + key, OAuth refresh
    token. Empty values count as absent; the client would accept them and then fail remotely.
    """
    refresh = _oauth_credentials().get("refresh_token")
    return bool(_access_token() or _api_key() or (isinstance(refresh, str) and refresh))


def _secrets() -> list[str]:
    values: list[object] = [
        os.environ.get("KAGGLE_KEY"),
        os.environ.get("KAGGLE_API_TOKEN"),
        _access_token(),
        _read_json(_config_dir() / "kaggle.json").get("key"),
    ]
    api_key = _api_key()
    if api_key:
        values.append(base64.b64encode(f"{api_key[0]}:{api_key[1]}".encode()).decode())
    oauth = _oauth_credentials()
    values += [oauth.get("refresh_token"), oauth.get("access_token")]
    found = {value for value in values if isinstance(value, str) and value}
    return sorted(found, key=len, reverse=True)


def _redact(text: str) -> str:
    for secret in _secrets():
        text = text.replace(secret, "***")
    return text


# --- cache entries ------------------------------------------------------------------------------


def _parse_ref(dataset: str) -> tuple[str, str]:
    match = _DATASET_REF.fullmatch(dataset)
    if match is None:
        raise ValueError(f"Kaggle dataset must look like 'owner/slug', got {dataset!r}")
    return match.group(1), match.group(2)


def _read_marker(entry: Path, dataset: str, version: int | None) -> dict[str, Any] | None:
    """The entry's manifest if the entry is complete and its files are all still there.

    Sizes are checked on every hit, hashes are not: hashing gigabytes per test run costs more
    than the corruption it would catch; the hashes are kept for provenance.
    """
    manifest = _read_json(entry / MARKER)
    files = manifest.get("files")
    if manifest.get("dataset") != dataset or manifest.get("version") != version:
        return None
    if not isinstance(files, dict) or not files:
        return None
    for relative, meta in files.items():
        try:
            if (entry / relative).stat().st_size != meta["size"]:
                return None
        except (OSError, TypeError, KeyError):
            return None
    return manifest


def _manifest(root: Path, dataset: str, version: int | None) -> dict[str, Any]:
    files: dict[str, dict[str, Any]] = {}
    for path in sorted(root.rglob("*")):
        if not path.is_file():
            continue
        digest = hashlib.sha256()
        with path.open("rb") as handle:
            while chunk := handle.read(_CHUNK):
                digest.update(chunk)
        relative = path.relative_to(root).as_posix()
        files[relative] = {"sha256": digest.hexdigest(), "size": path.stat().st_size}
    return {"dataset": dataset, "version": version, "files": files}


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def _discard(entry: Path, dataset: str, version: int | None) -> None:
    """Move an incomplete entry out of the way, then delete it.

    Renaming first keeps the name free for a concurrent winner. If a winner renamed its complete
    entry in between our look and our rename, we moved that one: it goes back.
    """
    trash = entry.with_name(f".{entry.name}.{uuid.uuid4().hex}.stale")
    try:
        os.rename(entry, trash)
    except FileNotFoundError:
        return
    if _read_marker(trash, dataset, version) is not None:
        try:
            os.rename(trash, entry)
            return
        except OSError:
            pass
    _remove(trash)


def _install(staged: Path, entry: Path, dataset: str, version: int | None) -> Path:
    """Rename the staged entry into place; the loser of a race uses the winner's entry."""
    for _ in range(3):
        try:
            os.rename(staged, entry)
            return entry
        except OSError:
            if _read_marker(entry, dataset, version) is not None:
                return entry
            _discard(entry, dataset, version)
    raise DataUnavailable("client_error", f"could not place {dataset} at {entry}")


def _sweep_leftovers(entry: Path) -> None:
    """Delete temp folders that a killed process left beside the entry a day or more ago."""
    cutoff = time.time() - _LEFTOVER_AGE_S
    for leftover in entry.parent.glob(f".{entry.name}.*"):
        try:
            if leftover.stat().st_mtime < cutoff:
                _remove(leftover)
        except OSError:
            continue


# --- unpacking ----------------------------------------------------------------------------------


def _member_target(root: Path, member: zipfile.ZipInfo, dataset: str) -> Path:
    name = member.filename
    parts = name.replace("\\", "/").split("/")
    kind = stat.S_IFMT(member.external_attr >> 16)
    if name.startswith(("/", "\\")) or re.match(r"[A-Za-z]:", name) or ".." in parts:
        raise DataUnavailable("bad_archive", f"{dataset}: member {name!r} escapes the archive")
    if kind not in (0, stat.S_IFREG, stat.S_IFDIR):
        raise DataUnavailable("bad_archive", f"{dataset}: member {name!r} is a link or device")
    clean = [part for part in parts if part not in ("", ".")]
    if not clean or clean == [MARKER]:
        raise DataUnavailable("bad_archive", f"{dataset}: member name {name!r} is not usable")
    target = root.joinpath(*clean)
    if not target.resolve().is_relative_to(root.resolve()):
        raise DataUnavailable("bad_archive", f"{dataset}: member {name!r} escapes the archive")
    return target


# Compression methods zipfile can read here; any other would fail mid-extraction.
_READABLE = {zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA}


def _unzip(archive: Path, root: Path, limit: int, dataset: str) -> None:
    """Extract member by member, counting the bytes written, not the sizes the headers claim.

    Every member counts at least one file system block (:data:`_MEMBER_COST`) toward the limit:
    an archive of a million empty files unpacks to no bytes, yet costs a million inodes and
    blocks, and as long to write.
    """
    try:
        with zipfile.ZipFile(archive) as bundle:
            members = bundle.infolist()
            declared = sum(max(member.file_size, _MEMBER_COST) for member in members)
            if declared > limit:
                raise DataUnavailable(
                    "bad_archive", f"{dataset} would unpack to {declared} bytes, over {limit}"
                )
            unreadable = [m.filename for m in members if m.compress_type not in _READABLE]
            if unreadable:
                raise DataUnavailable(
                    "bad_archive",
                    f"{dataset} uses a compression method this Python cannot read "
                    f"({unreadable[0]})",
                )
            written = 0
            for member in members:
                target = _member_target(root, member, dataset)
                if member.is_dir():
                    target.mkdir(parents=True, exist_ok=True)
                    continue
                target.parent.mkdir(parents=True, exist_ok=True)
                size = 0
                with bundle.open(member) as source, target.open("xb") as sink:
                    while chunk := source.read(_CHUNK):
                        size += len(chunk)
                        if written + size > limit:
                            raise DataUnavailable(
                                "bad_archive", f"{dataset} unpacks to more than {limit} bytes"
                            )
                        sink.write(chunk)
                    sink.flush()
                    os.fsync(sink.fileno())
                written += max(size, _MEMBER_COST)
    except (
        zipfile.BadZipFile,
        zipfile.LargeZipFile,
        EOFError,
        RuntimeError,
        ValueError,
        zlib.error,
        FileExistsError,
        IsADirectoryError,
        NotADirectoryError,
    ) as exc:
        raise DataUnavailable(
            "bad_archive", f"the archive for {dataset} is corrupt: {exc}"
        ) from None


def _unpack(download: Path, root: Path, limit: int, dataset: str) -> None:
    """Unzip the download into ``root``, or keep it as the only file if it is not an archive.

    A Kaggle download of a one-file dataset can arrive as the bare file; anything served under a
    ``.zip`` name that does not parse as one is a broken archive, not a data file.
    """
    root.mkdir()
    if zipfile.is_zipfile(download):
        _unzip(download, root, limit, dataset)
        if not any(path.is_file() for path in root.rglob("*")):
            raise DataUnavailable("bad_archive", f"the archive for {dataset} holds no files")
        return
    size = download.stat().st_size
    if size == 0 or download.suffix.lower() == ".zip":
        raise DataUnavailable("bad_archive", f"the download of {dataset} is not a valid zip file")
    if size > limit:
        raise DataUnavailable("bad_archive", f"{dataset} is {size} bytes, over {limit}")
    os.replace(download, root / download.name)


# --- running the client -------------------------------------------------------------------------


def _child_env(work: Path) -> dict[str, str]:
    env = dict(os.environ)
    package_root = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [package_root, env.get("PYTHONPATH")]))
    if not env.get("KAGGLE_CONFIG_DIR") and not _config_dir().exists():
        empty = work / "config"
        empty.mkdir()
        env["KAGGLE_CONFIG_DIR"] = str(empty)
    return env


def _download(
    dataset: str, version: int | None, work: Path, timeout_s: float, max_bytes: int
) -> Path:
    """Run the client in a child process that is killed once ``timeout_s`` has passed and
    cannot write a file larger than ``max_bytes``."""
    downloads = work / "download"
    downloads.mkdir()
    result_path = work / "result.json"
    arguments = [
        str(Path(__file__).resolve()),
        dataset,
        str(version or ""),
        str(downloads),
        str(result_path),
        str(max_bytes),
    ]
    process = subprocess.Popen(
        [sys.executable, "-c", _CHILD_CODE, *arguments],
        cwd=work,
        env=_child_env(work),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        _, stderr = process.communicate(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        raise DataUnavailable(
            "timeout", f"Kaggle download of {dataset} did not finish within {timeout_s:g} s"
        ) from None
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    result = _read_json(result_path)
    download = downloads / str(result.get("file"))
    if result.get("ok") is True and download.parent == downloads and download.is_file():
        return download
    if result.get("ok") is False and result.get("reason") in _REASONS:
        raise DataUnavailable(result["reason"], str(result.get("message", "")))
    tail = _redact(stderr.decode("utf-8", "replace")).strip()[-500:]
    raise DataUnavailable(
        "client_error", f"the Kaggle client exited with status {process.returncode}: {tail}"
    )


def _served_name(response: Any, slug: str) -> str:
    """The download's own file name, from Content-Disposition or the final URL; redacted, since
    the server chooses it and it becomes a file name in the cache."""
    header = email.message.Message()
    header["content-disposition"] = response.headers.get("Content-Disposition", "")
    raw = _redact(header.get_filename() or PurePosixPath(urlsplit(response.url).path).name)
    name = re.sub(r"[^A-Za-z0-9._-]", "_", raw.replace("\\", "/").rsplit("/", 1)[-1])
    return name.lstrip(".") or slug


def _client_download(dataset: str, version: int | None, downloads: Path) -> str:
    owner, slug = _parse_ref(dataset)
    try:
        # Importing the package authenticates already; the explicit call is the one we can read.
        from kaggle.api.kaggle_api_extended import KaggleApi

        api = KaggleApi()
        api.authenticate()
    except SystemExit:
        raise DataUnavailable(
            "no_credentials", "the Kaggle client found no credentials it could use"
        ) from None
    from kagglesdk.datasets.types.dataset_api_service import ApiDownloadDatasetRequest

    request = ApiDownloadDatasetRequest()
    request.owner_slug = owner
    request.dataset_slug = slug
    request.dataset_version_number = version
    with api.build_kaggle_client() as client:
        response = client.datasets.dataset_api_client.download_dataset(request)
        name = _served_name(response, slug)
        api.download_file(
            response,
            str(downloads / name),
            client.http_client(),
            quiet=True,
            resume=False,
            max_retries=_DOWNLOAD_RETRIES,
        )
    return name


def _classify(exc: BaseException, dataset: str, max_bytes: int) -> tuple[Reason, str]:
    import requests
    from urllib3.exceptions import ProtocolError

    if isinstance(exc, DataUnavailable):
        return exc.reason, exc.message
    if isinstance(exc, OSError) and exc.errno == errno.EFBIG:
        return "bad_archive", f"the download of {dataset} is larger than {max_bytes} bytes"
    detail = _redact(f"{type(exc).__name__}: {exc}")[:500]
    response = getattr(exc, "response", None)
    if isinstance(exc, requests.HTTPError) and response is not None:
        status = response.status_code
        if status == 404:
            return "not_found", f"Kaggle has no dataset {dataset} (HTTP 404)"
        if status in (401, 403):
            return "no_credentials", f"Kaggle rejected the credentials (HTTP {status})"
        return "client_error", f"Kaggle answered HTTP {status} for {dataset}: {detail}"
    if isinstance(exc, requests.Timeout):
        return "timeout", f"Kaggle did not answer in time for {dataset}: {detail}"
    if isinstance(exc, (requests.exceptions.ChunkedEncodingError, ProtocolError)):
        return "bad_archive", f"the download of {dataset} ended early: {detail}"
    if isinstance(exc, requests.ConnectionError):
        return "offline", f"cannot reach the Kaggle API for {dataset}: {detail}"
    if isinstance(exc, ImportError):
        return "client_error", f"the kaggle client cannot be imported: {detail}"
    return "client_error", f"the Kaggle client failed on {dataset}: {detail}"


def _child_main(argv: list[str]) -> int:
    """Entry point of the child process; the outcome goes to a JSON file, never to stdout.

    stdout belongs to the client, which prints help texts and, in verbose mode, request headers.
    """
    dataset, version_text, downloads, result_path, limit_text = argv
    version = int(version_text) if version_text else None
    max_bytes = int(limit_text)
    _limit_file_size(max_bytes + 4096)  # room for the small files the client and we write
    try:
        outcome: dict[str, Any] = {
            "ok": True,
            "file": _client_download(dataset, version, Path(downloads)),
        }
    except KeyboardInterrupt:
        raise
    except BaseException as exc:
        reason, message = _classify(exc, dataset, max_bytes)
        outcome = {"ok": False, "reason": reason, "message": _redact(message)}
    atomic_write_json(Path(result_path), outcome)
    return 0


def _limit_file_size(limit: int) -> None:
    """Make a write past ``limit`` bytes fail with EFBIG in this process (instead of the default
    SIGXFSZ, which would kill it without a word)."""
    try:
        import resource
    except ImportError:  # not a POSIX system: the time limit still bounds the download
        return
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    _, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, hard))


# --- public API ---------------------------------------------------------------------------------


def fetch_dataset(
    dataset: str,
    *,
    version: int | None,
    cache_dir: Path,
    timeout_s: float = 60.0,
    max_extracted_bytes: int = MAX_EXTRACTED_BYTES,
) -> Path:
    """Return the folder holding the files of ``dataset`` (``owner/slug``), fetching on a miss.

    ``timeout_s`` bounds everything that touches the network, client start-up included.
    """
    owner, slug = _parse_ref(dataset)
    if version is not None and (isinstance(version, bool) or version < 1):
        raise ValueError(f"Kaggle dataset version must be a positive integer, got {version!r}")
    if timeout_s <= 0:
        raise ValueError(f"timeout_s must be positive, got {timeout_s!r}")
    entry = Path(cache_dir) / owner / slug / (str(version) if version is not None else "latest")
    if _read_marker(entry, dataset, version) is not None:
        return entry
    if not have_credentials():
        raise DataUnavailable(
            "no_credentials",
            "no Kaggle credentials: set KAGGLE_USERNAME and KAGGLE_KEY, or KAGGLE_API_TOKEN, "
            f"or put kaggle.json in {_config_dir()}",
        )
    entry.parent.mkdir(parents=True, exist_ok=True)
    _sweep_leftovers(entry)
    work = Path(tempfile.mkdtemp(prefix=f".{entry.name}.", suffix=".tmp", dir=entry.parent))
    try:
        download = _download(dataset, version, work, timeout_s, max_extracted_bytes)
        staged = work / "entry"
        _unpack(download, staged, max_extracted_bytes, dataset)
        atomic_write_json(staged / MARKER, _manifest(staged, dataset, version))
        return _install(staged, entry, dataset, version)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def find_file(folder: Path, name: str) -> Path:
    """Pick one file of a fetched dataset by relative path or, failing that, unique basename."""
    folder = Path(folder)
    files = sorted(
        path.relative_to(folder).as_posix()
        for path in folder.rglob("*")
        if path.is_file() and path.relative_to(folder).as_posix() != MARKER
    )
    wanted = PurePosixPath(name)
    if not wanted.is_absolute() and ".." not in wanted.parts and wanted.as_posix() in files:
        return folder / wanted
    matches = [relative for relative in files if PurePosixPath(relative).name == name]
    if len(matches) == 1:
        return folder / matches[0]
    listed = [printable(clip(file, 100)) for file in files[:20]]  # archive names: anything
    shown = ", ".join(listed) + (f" and {len(files) - 20} more" if len(files) > 20 else "")
    found = ", ".join(printable(clip(match, 100)) for match in matches)
    problem = f"{brief(name)} matches {found}" if matches else f"no file {brief(name)}"
    raise DataUnavailable("missing_file", f"{problem} in {folder}; files: {shown or 'none'}")
