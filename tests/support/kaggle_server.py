"""A stand-in for the Kaggle API that the real ``kaggle`` client can talk to.

kaggle 2.2.5 builds its URLs from a fixed table: ``KAGGLE_API_ENVIRONMENT=LOCALHOST`` selects
``http://localhost`` (port 80) and nothing selects a host or port of our own. The client sends
its requests through ``requests``, which honours ``http_proxy``, so this server also acts as that
proxy: every request arrives here in absolute form, ``POST http://localhost/api/v1/...``.

What the client does for ``dataset_download``:

1. ``POST /api/v1/datasets.DatasetApiService/DownloadDataset`` with a JSON body
   ``{"ownerSlug", "datasetSlug", "datasetVersionNumber"?}``, HTTP Basic auth (username + key)
   or ``Authorization: Bearer <token>``.
2. It follows the ``302`` to the archive URL with a ``GET`` and streams the body.

With a token it first asks ``POST /api/v1/security.OAuthService/IntrospectToken`` who it is.
"""

from __future__ import annotations

import base64
import io
import json
import socket
import stat
import struct
import threading
import warnings
import zipfile
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Literal
from urllib.parse import urlsplit

DOWNLOAD_PATH = "/api/v1/datasets.DatasetApiService/DownloadDataset"
INTROSPECT_PATH = "/api/v1/security.OAuthService/IntrospectToken"

# ok: 302 to the archive, served whole. not_found / unauthorized: the API's JSON errors.
# hang: the download call never answers. truncated: the archive promises its full length and the
# connection drops halfway. short_header: Content-Length says less than the archive has, so the
# client stores a cut archive without noticing. error_echo: a 500 whose message repeats the key.
# unavailable: a 503 from the API. download_error: the archive URL answers 500. slow: the archive
# trickles in a few bytes at a time. stall: half the archive, then silence on an open connection.
# endless: a chunked body that never ends. html: a login page served as the archive.
# redirect_loop: the archive URL redirects to itself. echo_name: the archive URL, and so the
# downloaded file's name, carries the key.
Mode = Literal[
    "ok", "not_found", "unauthorized", "hang", "truncated", "short_header", "error_echo",
    "unavailable", "download_error", "slow", "stall", "endless", "html", "redirect_loop",
    "echo_name",
]  # fmt: skip


@dataclass(frozen=True)
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> dict[str, object]:
        return json.loads(self.body)


@dataclass
class FakeKaggle:
    """Serves one dataset archive; start with ``with FakeKaggle(...) as server:``."""

    archive: bytes = b""
    mode: Mode = "ok"
    file_name: str = "archive.zip"
    content_type: str = "application/zip"
    token: str = ""
    username: str = "ci-user"
    requests: list[Recorded] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._release = threading.Event()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def client_env(self) -> dict[str, str]:
        """Environment that sends the real client here."""
        return {
            "KAGGLE_API_ENVIRONMENT": "LOCALHOST",
            "http_proxy": self.url,
            "HTTP_PROXY": self.url,
        }

    def paths(self) -> list[str]:
        with self._lock:
            return [recorded.path for recorded in self.requests]

    def record(self, recorded: Recorded) -> None:
        with self._lock:
            self.requests.append(recorded)

    def wait_for_release(self) -> None:
        self._release.wait()

    def released(self, wait_s: float) -> bool:
        """Whether :meth:`stop` was called, waiting up to ``wait_s`` for it."""
        return self._release.wait(wait_s)

    def __enter__(self) -> FakeKaggle:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def stop(self) -> None:
        """Stop serving; hung handlers are released first so that nothing waits on them."""
        self._release.set()
        if self._thread.is_alive():
            self._server.shutdown()
            self._thread.join(timeout=5)
        self._server.server_close()


def _handler_for(fake: FakeKaggle) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            """Quiet: the test reads ``fake.requests`` instead."""

        def _record(self) -> Recorded:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            recorded = Recorded(
                self.command, urlsplit(self.path).path, dict(self.headers.items()), body
            )
            fake.record(recorded)
            return recorded

        def _send(self, status: int, body: bytes, content_type: str, length: int | None = None):
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body) if length is None else length))
            self.end_headers()
            self.wfile.write(body)

        def _send_json(self, status: int, payload: dict[str, object]) -> None:
            self._send(status, json.dumps(payload).encode(), "application/json")

        def do_POST(self) -> None:
            recorded = self._record()
            if recorded.path == INTROSPECT_PATH:
                active = bool(fake.token) and recorded.json().get("token") == fake.token
                self._send_json(
                    200, {"active": active, "username": fake.username if active else ""}
                )
            elif recorded.path != DOWNLOAD_PATH or fake.mode == "not_found":
                self._send_json(404, {"code": 404, "message": "Not found"})
            elif fake.mode == "hang":
                fake.wait_for_release()
            elif fake.mode == "unauthorized":
                self._send_json(401, {"code": 401, "message": "Unauthenticated"})
            elif fake.mode == "error_echo":
                self._send_json(500, {"code": 500, "message": f"bad key {_password(recorded)}"})
            elif fake.mode == "unavailable":
                self._send_json(503, {"code": 503, "message": "Service Unavailable"})
            else:
                request = recorded.json()
                served = (
                    f"{_password(recorded)}.csv" if fake.mode == "echo_name" else fake.file_name
                )
                location = (
                    f"http://{self.headers['Host']}/download/{request['ownerSlug']}/"
                    f"{request['datasetSlug']}/{served}"
                )
                self.send_response(302)
                self.send_header("Location", location)
                self.send_header("Content-Length", "0")
                self.end_headers()

        def do_GET(self) -> None:
            recorded = self._record()
            body = fake.archive
            if fake.mode == "download_error":
                self._send(500, b"<html>Internal Server Error</html>", "text/html")
            elif fake.mode == "html":
                self._send(200, b"<html><body>Please sign in</body></html>", "text/html")
            elif fake.mode == "redirect_loop":
                self.send_response(302)
                self.send_header("Location", f"http://{self.headers['Host']}{recorded.path}")
                self.send_header("Content-Length", "0")
                self.end_headers()
            elif fake.mode in ("slow", "stall", "endless"):
                self._dribble(body)
            elif fake.mode == "truncated":
                self._send(200, body[: len(body) // 2], fake.content_type, length=len(body))
                self.close_connection = True
            elif fake.mode == "short_header":
                self._send(200, body, fake.content_type, length=len(body) // 2)
                self.close_connection = True
            else:
                self._send(200, body, fake.content_type)

        def _dribble(self, body: bytes) -> None:
            """The slow modes; each stops as soon as the server is told to stop."""
            self.send_response(200)
            self.send_header("Content-Type", fake.content_type)
            if fake.mode != "endless":  # endless: no length, the body runs until closed
                self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.close_connection = True
            try:
                if fake.mode == "stall":
                    self.wfile.write(body[: len(body) // 2])
                    self.wfile.flush()
                    fake.wait_for_release()
                elif fake.mode == "slow":
                    for start in range(0, len(body), 16):
                        self.wfile.write(body[start : start + 16])
                        self.wfile.flush()
                        if fake.released(0.05):
                            return
                else:
                    while not fake.released(0.002):  # about 30 MB/s: fast, not disk-filling
                        self.wfile.write(bytes(64 * 1024))
            except OSError:
                return  # the client went away (it was killed at its time limit)

    return Handler


def _password(recorded: Recorded) -> str:
    scheme, _, value = recorded.headers.get("Authorization", "").partition(" ")
    if scheme != "Basic":
        return value
    return base64.b64decode(value).decode().partition(":")[2]


def unused_port() -> int:
    """A loopback port with nobody listening, so that connecting is refused."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# --- archives -----------------------------------------------------------------------------------


def zip_bytes(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as bundle:
        for name, data in files.items():
            bundle.writestr(zipfile.ZipInfo(name), data, zipfile.ZIP_DEFLATED)
    return buffer.getvalue()


def symlink_zip(link_target: str) -> bytes:
    """A symlink member, followed by a file written through it."""
    link = zipfile.ZipInfo("data")
    link.create_system = 3
    link.external_attr = (stat.S_IFLNK | 0o777) << 16
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as bundle:
        bundle.writestr(link, link_target)
        bundle.writestr("data/evil.txt", b"written through the link")
    return buffer.getvalue()


def bomb_zip(size: int) -> bytes:
    """``size`` bytes of zeros that compress to a few kilobytes."""
    return zip_bytes({"zeros.bin": bytes(size)})


def lying_zip(real_size: int, claimed_size: int) -> bytes:
    """A member whose central directory claims ``claimed_size`` bytes but holds ``real_size``."""
    data = bytearray(zip_bytes({"small.csv": bytes(real_size)}))
    header = data.rindex(b"PK\x01\x02")
    struct.pack_into("<I", data, header + 24, claimed_size)
    return bytes(data)


def special_file_zip(name: str, kind: int) -> bytes:
    """A member whose mode says it is a FIFO, a device or a socket (``kind``: ``stat.S_IF*``)."""
    member = zipfile.ZipInfo(name)
    member.create_system = 3
    member.external_attr = (kind | 0o644) << 16
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as bundle:
        bundle.writestr(member, b"")
    return buffer.getvalue()


def duplicate_member_zip(name: str) -> bytes:
    """The same member name twice: the second would overwrite the first."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as bundle:
        bundle.writestr(name, b"a,label\n1,0\n")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # zipfile warns about the duplicate name
            bundle.writestr(name, b"evil,label\n1,0\n")
    return buffer.getvalue()


def many_files_zip(count: int) -> bytes:
    """``count`` empty files: nothing to unpack by size, but one inode and block each."""
    return zip_bytes({f"f/{i}.bin": b"" for i in range(count)})
