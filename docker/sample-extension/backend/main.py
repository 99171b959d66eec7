"""The sample extension's backend: a tiny HTTP API on a unix socket (or a TCP port), stdlib only.

    python3 main.py --socket /run/guest-services/backend.sock
    python3 main.py --port 8080

Routes:
    GET  /hello  -> {"message": "Hello from the sample backend", "time": "<UTC ISO 8601>"}
    POST /echo   -> the JSON body it was sent, as is (400 when the body is not JSON)

A stale socket file from an earlier run is removed at start. SIGTERM and SIGINT stop it
cleanly: the server closes and the socket file is removed.
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
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

MAX_BODY = 1024 * 1024


class Handler(BaseHTTPRequestHandler):
    server_version = "sample-backend/1.0"
    protocol_version = "HTTP/1.1"  # keep-alive: the bridge reuses its connections

    def do_GET(self) -> None:
        if self.path.split("?", 1)[0] == "/hello":
            now = datetime.now(UTC).isoformat(timespec="seconds")
            self._send_json(HTTPStatus.OK, {"message": "Hello from the sample backend", "time": now})
        else:
            self._not_found()

    def do_POST(self) -> None:
        if self.path.split("?", 1)[0] != "/echo":
            self._not_found()
            return
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            self._send_json(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, {"error": f"body over {MAX_BODY} bytes"})
            self.close_connection = True
            return
        body = self.rfile.read(length)
        try:
            payload = json.loads(body or b"null")
        except ValueError as exc:
            self._send_json(HTTPStatus.BAD_REQUEST, {"error": f"the body is not JSON: {exc}"})
            return
        self._send_json(HTTPStatus.OK, payload)

    def _not_found(self) -> None:
        self._send_json(HTTPStatus.NOT_FOUND, {"error": f"no route {self.command} {self.path}"})

    def _send_json(self, status: HTTPStatus, payload: Any) -> None:
        body = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def address_string(self) -> str:
        # A unix socket peer has no address (client_address is "").
        return self.client_address[0] if isinstance(self.client_address, tuple) else "unix"

    def log_message(self, format: str, *args: Any) -> None:
        sys.stderr.write(f"sample-backend: {self.address_string()} {format % args}\n")


class UnixHTTPServer(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True

    def server_bind(self) -> None:
        socketserver.UnixStreamServer.server_bind(self)
        # What BaseHTTPServer.server_bind sets, minus the host/port lookup a unix socket lacks.
        self.server_name = "localhost"
        self.server_port = 0


class TCPHTTPServer(ThreadingHTTPServer):
    daemon_threads = True


def remove_stale_socket(path: str) -> None:
    """Remove a socket file left by an earlier run; refuse to delete anything else."""
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return
    if not stat.S_ISSOCK(mode):
        sys.exit(f"sample-backend: {path} exists and is not a socket; not removing it")
    os.unlink(path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="The ddbridge sample extension's backend.")
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--socket", metavar="PATH", help="listen on this unix socket")
    where.add_argument("--port", type=int, metavar="N", help="listen on 127.0.0.1:N")
    args = parser.parse_args(argv)

    server: socketserver.BaseServer
    if args.socket:
        os.makedirs(os.path.dirname(os.path.abspath(args.socket)), exist_ok=True)
        remove_stale_socket(args.socket)
        server = UnixHTTPServer(args.socket, Handler)
        where_text = f"unix socket {args.socket}"
    else:
        server = TCPHTTPServer(("127.0.0.1", args.port), Handler)
        where_text = f"http://127.0.0.1:{server.server_address[1]}/"

    def stop(signum: int, frame: object) -> None:
        # shutdown() waits for serve_forever to return, so it must not run on the main thread.
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    print(f"sample-backend: listening on {where_text}", file=sys.stderr, flush=True)
    try:
        server.serve_forever()
    finally:
        server.server_close()
        if args.socket:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(args.socket)
    print("sample-backend: stopped", file=sys.stderr, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
