"""``ddbridge``: the command line. ``serve`` runs the daemon; more commands join it later.

Usage errors, unreadable configuration and missing folders print one line and exit 2.
"""

from __future__ import annotations

import argparse
import logging
import socket
import sys
from collections.abc import Sequence
from pathlib import Path
from types import FrameType
from typing import Any, NoReturn

import uvicorn

from bridge import __version__
from bridge.config import Settings, load_settings
from bridge.errors import ConfigError

USAGE_ERROR = 2


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.exit(USAGE_ERROR, f"ddbridge: {message} (see ddbridge {self.prog.split()[-1]} --help)\n")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="ddbridge", description="Docker Desktop extension UIs in a plain browser.")
    parser.add_argument("--version", action="version", version=f"ddbridge {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    serve = commands.add_parser("serve", help="run the bridge daemon")
    serve.add_argument("--config", type=Path, metavar="FILE", help="TOML settings (flags override it)")
    serve.add_argument("--host", help="address to bind (default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port to bind (default 7700; 0 picks a free one)")
    backend = serve.add_mutually_exclusive_group()
    backend.add_argument("--backend-socket", type=Path, metavar="PATH", help="extension backend unix socket")
    backend.add_argument("--backend-url", metavar="URL", help="extension backend base URL (http)")
    ui = serve.add_mutually_exclusive_group()
    ui.add_argument("--ui", type=Path, metavar="DIR", help="extension UI folder served at /")
    ui.add_argument("--ui-source", metavar="URL", help="UI dev server to proxy at / (hot reload included)")
    serve.add_argument("--host-binaries", type=Path, metavar="DIR", help="binaries host.cli.exec may run")
    serve.add_argument(
        "--docker-host",
        metavar="URL",
        help="Docker engine address (default: DOCKER_HOST or the local socket)",
    )
    serve.add_argument(
        "--vm-container", metavar="NAME", help="container extension.vm.cli.exec runs in (the backend)"
    )
    serve.add_argument(
        "--allow-origin", action="append", metavar="ORIGIN", help="extra origin allowed on the WebSocket"
    )
    serve.add_argument("--allow-host", action="append", metavar="NAME", help="extra Host name accepted")
    serve.add_argument("--verbose", "-v", action="store_true", help="log debug details")
    return parser


def _flag_layer(args: argparse.Namespace) -> dict[str, dict[str, Any]]:
    """The settings the flags give, by section; flags not given leave the lower layers alone."""
    mapping = {
        ("server", "host"): args.host,
        ("server", "port"): args.port,
        ("server", "allow_origins"): args.allow_origin,
        ("server", "allow_hosts"): args.allow_host,
        ("backend", "socket"): args.backend_socket,
        ("backend", "url"): args.backend_url,
        ("ui", "dir"): args.ui,
        ("ui", "source"): args.ui_source,
        ("host_binaries", "dir"): args.host_binaries,
        ("docker", "host"): args.docker_host,
        ("docker", "vm_container"): args.vm_container,
    }
    layer: dict[str, dict[str, Any]] = {}
    for (section, key), value in mapping.items():
        if value is not None:
            layer.setdefault(section, {})[key] = value
    return layer


def _check_folders(settings: Settings) -> None:
    for what, folder in (
        ("UI folder", settings.ui.dir),
        ("host binaries folder", settings.host_binaries.dir),
    ):
        if folder is not None and not folder.is_dir():
            raise ConfigError(f"{what} {folder} does not exist or is not a folder")
    if settings.backend.socket is not None and settings.backend.url is not None:
        raise ConfigError("give the extension backend as a socket or as a URL, not both")


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise ConfigError(f"cannot listen on {host}:{port}: {exc.strerror}") from exc
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


class _Server(uvicorn.Server):
    """uvicorn's server, announcing the ready line once it accepts connections."""

    def __init__(self, config: uvicorn.Config, sock: socket.socket) -> None:
        super().__init__(config)
        self.sock = sock

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        super().handle_exit(sig, frame)
        # SIGINT/SIGTERM is how a daemon is asked to stop: after the graceful shutdown, exit 0
        # instead of uvicorn's re-raising the signal.
        self._captured_signals.clear()

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if self.started:
            host, port = self.sock.getsockname()[:2]
            shown = f"[{host}]" if ":" in host else host
            print(f"ddbridge listening on http://{shown}:{port}/", flush=True)


def _serve(settings: Settings, sock: socket.socket, log_level: str) -> None:
    from bridge.app import create_app

    config = uvicorn.Config(
        create_app(settings), log_level=log_level, access_log=False, timeout_graceful_shutdown=5
    )
    _Server(config, sock).run(sockets=[sock])


def serve(args: argparse.Namespace) -> int:
    settings = load_settings(args.config, _flag_layer(args))
    _check_folders(settings)
    sock = _bind(settings.server.host, settings.server.port)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    _serve(settings, sock, "debug" if args.verbose else "warning")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return serve(args)
    except ConfigError as exc:
        print(f"ddbridge: {exc}", file=sys.stderr)
        return USAGE_ERROR
    except KeyboardInterrupt:
        return 0
