"""The extension's backend: a small HTTP API on a unix socket, Python's standard library only.

In Docker Desktop (and under ddbridge) it runs in the extension's container and listens on
/run/guest-services/backend.sock, where the UI reaches it with ``ddClient.extension.vm.service``;
``--socket PATH`` runs it anywhere else, such as on the host under ``ddbridge dev``.

    GET /hello  -> {"message": "Hello from the backend of __EXTENSION_TITLE__", "time": "<UTC ISO 8601>"}
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import socketserver
import stat
import sys
import threading
from datetime import UTC, datetime
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler
from typing import Any

SOCKET = "/run/guest-services/backend.sock"


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: Docker Desktop and ddbridge reuse connections

    def do_GET(self) -> None:
        if self.path.split("?", 1)[0] == "/hello":
            now = datetime.now(UTC).isoformat(timespec="seconds")
            self.send_json(
                HTTPStatus.OK, {"message": "Hello from the backend of __EXTENSION_TITLE__", "time": now}
            )
        else:
            self.send_json(HTTPStatus.NOT_FOUND, {"error": f"no route GET {self.path}"})

    def send_json(self, status: HTTPStatus, payload: Any) -> None:
        body = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def address_string(self) -> str:
        return "unix"  # the peer of a unix socket has no address

    def log_message(self, format: str, *args: Any) -> None:
        sys.stderr.write(f"backend: {format % args}\n")


class UnixServer(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True


def remove_stale_socket(path: str) -> None:
    """Remove the socket an earlier run left; refuse to delete anything else."""
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return
    if not stat.S_ISSOCK(mode):
        sys.exit(f"backend: {path} exists and is not a socket; not removing it")
    os.unlink(path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="The extension's backend.")
    parser.add_argument(
        "--socket", default=SOCKET, metavar="PATH", help=f"unix socket to listen on ({SOCKET})"
    )
    args = parser.parse_args(argv)
    os.makedirs(os.path.dirname(os.path.abspath(args.socket)), exist_ok=True)
    remove_stale_socket(args.socket)
    server = UnixServer(args.socket, Handler)

    def stop(signum: int, frame: object) -> None:
        # shutdown() waits for serve_forever() to return: it cannot run on the thread serving.
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    print(f"backend: listening on {args.socket}", file=sys.stderr, flush=True)
    try:
        server.serve_forever()
    finally:
        server.server_close()
        with contextlib.suppress(FileNotFoundError):  # its folder may be gone already
            os.unlink(args.socket)
    return 0


if __name__ == "__main__":
    sys.exit(main())
