"""Running the daemon: the options every command that runs it shares, settings from the flags,
the listening socket, the token, and uvicorn set up as ddbridge needs it (the ready line, the
guarded protocols, the redacting log filter). ``bridge.cli`` and the extensions host's
``bridge.host.command`` both run the daemon through ``Runner``."""

from __future__ import annotations

import argparse
import asyncio
import logging
import socket
import sys
import webbrowser
from collections.abc import Callable, Coroutine
from pathlib import Path
from types import FrameType
from typing import Any, NoReturn
from urllib.parse import urlencode

import uvicorn
from fastapi import FastAPI

from bridge.auth import TOKEN_QUERY, new_token
from bridge.config import Settings, load_settings, with_overrides
from bridge.dialogs import load_script
from bridge.docker_engine import EngineAddress
from bridge.errors import ConfigError
from bridge.listener import (
    STATE_KEY,
    GuardedHttpProtocol,
    Listener,
    raise_descriptor_limit,
)
from bridge.mock import check_mock_settings
from bridge.redaction import RedactingFilter
from bridge.rpc_socket import RpcWebSocketProtocol
from bridge.security import is_loopback

USAGE_ERROR = 2
START_FAILURE = 1

log = logging.getLogger("ddbridge")


class Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.exit(USAGE_ERROR, f"ddbridge: {message} (see {self.prog} --help)\n")


def server_options(parser: argparse.ArgumentParser, *, one_extension: bool = True) -> None:
    """The options of the daemon itself, shared by every command that runs it; those that name
    the one extension's parts (backend, UI, binaries, vm container, mocks) only when it serves one
    (not the extensions host, whose extensions bring their own)."""
    parser.add_argument("--config", type=Path, metavar="FILE", help="TOML settings (flags override it)")
    parser.add_argument("--host", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, help="port to bind (default 7700; 0 picks a free one)")
    if one_extension:
        _extension_part_options(parser)
    engine_options(parser)
    parser.add_argument("--allow-host", action="append", metavar="NAME", help="extra Host name accepted")
    parser.add_argument(
        "--token",
        metavar="TOKEN",
        help='access token (default: a new random one each start; "" for none, loopback only)',
    )
    parser.add_argument(
        "--dialog-root",
        action="append",
        type=Path,
        metavar="DIR",
        help="a folder the open dialog may browse (repeatable; default: your home)",
    )
    parser.add_argument(
        "--dialog-script", type=Path, metavar="FILE", help="scripted open dialog answers (JSON list)"
    )
    parser.add_argument("--open", action="store_true", help="open the UI in the browser once ready")
    parser.add_argument("--verbose", "-v", action="store_true", help="log debug details")


def engine_options(parser: argparse.ArgumentParser, *, when: str = "") -> None:
    """``--docker-host`` and ``--context``: one or the other, as the docker CLI's ``-H`` and
    ``--context`` (``when`` says when they apply, for commands that may not use them)."""
    engine = parser.add_mutually_exclusive_group()
    engine.add_argument(
        "--docker-host",
        metavar="URL",
        help=f"Docker engine address{when} (default: the docker CLI's: DOCKER_HOST, context, socket)",
    )
    engine.add_argument(
        "--context",
        metavar="NAME",
        help=f"the docker CLI context whose engine to use{when} (`docker context ls`)",
    )


def engine_layer(args: argparse.Namespace) -> dict[str, Any]:
    """The ``[docker]`` settings ``--docker-host`` or ``--context`` give: each one also clears
    the other's setting from the lower layers, as a flag overrides the file."""
    if getattr(args, "docker_host", None):
        return {"host": args.docker_host, "context": None}
    if getattr(args, "context", None):
        return {"context": args.context, "host": None}
    return {}


def _extension_part_options(parser: argparse.ArgumentParser) -> None:
    backend = parser.add_mutually_exclusive_group()
    backend.add_argument("--backend-socket", type=Path, metavar="PATH", help="extension backend unix socket")
    backend.add_argument("--backend-url", metavar="URL", help="extension backend base URL (http)")
    ui = parser.add_mutually_exclusive_group()
    ui.add_argument("--ui", type=Path, metavar="DIR", help="extension UI folder served at /")
    ui.add_argument("--ui-source", metavar="URL", help="UI dev server to proxy at / (hot reload included)")
    parser.add_argument("--host-binaries", type=Path, metavar="DIR", help="binaries host.cli.exec may run")
    parser.add_argument(
        "--vm-container", metavar="NAME", help="container extension.vm.cli.exec runs in (the backend)"
    )
    parser.add_argument(
        "--allow-origin", action="append", metavar="ORIGIN", help="extra origin allowed on the WebSocket"
    )
    mock = parser.add_mutually_exclusive_group()
    mock.add_argument(
        "--mock", type=Path, metavar="FILE", help="answer service calls, execs, lists and dialogs from FILE"
    )
    mock.add_argument("--record", type=Path, metavar="FILE", help="record what the session answered to FILE")


def flag_layer(args: argparse.Namespace) -> dict[str, dict[str, Any]]:
    """The settings the flags give, by section; flags not given (or that the command has not)
    leave the lower layers alone."""
    mapping = {
        ("server", "host"): "host",
        ("server", "port"): "port",
        ("server", "allow_origins"): "allow_origin",
        ("server", "allow_hosts"): "allow_host",
        ("server", "token"): "token",
        ("backend", "socket"): "backend_socket",
        ("backend", "url"): "backend_url",
        ("ui", "dir"): "ui",
        ("ui", "source"): "ui_source",
        ("host_binaries", "dir"): "host_binaries",
        ("docker", "vm_container"): "vm_container",
        ("dialog", "roots"): "dialog_root",
        ("dialog", "script"): "dialog_script",
        ("mock", "file"): "mock",
        ("mock", "record"): "record",
    }
    layer: dict[str, dict[str, Any]] = {}
    for (section, key), flag in mapping.items():
        value = getattr(args, flag, None)
        if value is not None:
            layer.setdefault(section, {})[key] = value
    if engine := engine_layer(args):
        layer.setdefault("docker", {}).update(engine)
    return layer


def check_folders(settings: Settings) -> None:
    for what, folder in (
        ("UI folder", settings.ui.dir),
        ("host binaries folder", settings.host_binaries.dir),
    ):
        if folder is not None and not folder.is_dir():
            raise ConfigError(f"{what} {folder} does not exist or is not a folder")
    if settings.dialog.script is not None:
        load_script(settings.dialog.script)
    if settings.backend.socket is not None and settings.backend.url is not None:
        raise ConfigError("give the extension backend as a socket or as a URL, not both")


def bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise ConfigError(f"cannot listen on {host}:{port}: {exc.strerror}") from exc
    sock.listen(2048)
    return sock


def with_token(settings: Settings) -> Settings:
    """The settings with this start's token: the configured one, else a new random one. No
    token (``""``) is only allowed on a loopback address."""
    server = settings.server
    if server.token is None:
        return with_overrides(settings, {"server": {"token": new_token()}})
    if server.token == "":
        if not is_loopback(server.host):
            raise ConfigError(
                f"listening on {server.host}, which is not a loopback address, needs a token: "
                'remove token = "" (or DDBRIDGE_SERVER_TOKEN="") to get a random one, or set one'
            )
        log.warning('no token: any program on this computer may use the daemon (token is "")')
    return settings


class Server(uvicorn.Server):
    """uvicorn's server, announcing the ready line once it accepts connections, and showing
    every connection to the ``Listener`` (bridge.listener)."""

    def __init__(
        self,
        config: uvicorn.Config,
        sock: socket.socket,
        token: str,
        open_browser: bool,
        listener: Listener,
        shown_host: str | None = None,
        engine: EngineAddress | None = None,
    ) -> None:
        super().__init__(config)
        self.engine = engine
        self.sock = sock
        self.token = token
        self.open_browser = open_browser
        self.listener = listener
        self.shown_host = shown_host

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        super().handle_exit(sig, frame)
        # SIGINT/SIGTERM is how a daemon is asked to stop: after the graceful shutdown, exit 0
        # instead of uvicorn's re-raising the signal.
        self._captured_signals.clear()

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        # The app state reaches every connection's protocol and every ASGI scope (bridge.listener).
        self.lifespan.state[STATE_KEY] = self.listener
        await super().startup(sockets)
        if self.started:
            host, port = self.sock.getsockname()[:2]
            shown = self.shown_host or (f"[{host}]" if ":" in host else host)
            url = f"http://{shown}:{port}/"
            login = f"?{urlencode({TOKEN_QUERY: self.token})}" if self.token else ""
            print(f"ddbridge listening on {url}{login}", flush=True)
            print(f"inspector: {url}_ddbridge/{login}", file=sys.stderr, flush=True)
            if self.engine is not None:
                print(f"engine: {self.engine.shown}", file=sys.stderr, flush=True)
            if self.open_browser:
                await asyncio.to_thread(webbrowser.open, url + login)


def loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop when installed (uvicorn[standard] brings it), as uvicorn itself would choose."""
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop


class Runner:
    """The parts of a command that run the server: settings, the bound socket, logging."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        logging.basicConfig(
            level=logging.DEBUG if args.verbose else logging.INFO,
            format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        )
        raise_descriptor_limit()
        self.settings = with_token(load_settings(args.config, flag_layer(args)))
        # Resolved now, so that a context that is not there stops the start with its one line.
        self.engine = EngineAddress.resolve(self.settings.docker)
        # Every record, uvicorn's and websockets' too (see log_config below), passes this handler.
        redacting = RedactingFilter([self.settings.server.token or ""])
        for handler in logging.getLogger().handlers:
            handler.addFilter(redacting)
        check_mock_settings(self.settings)
        self.sock = bind(self.settings.server.host, self.settings.server.port)
        if not is_loopback(self.settings.server.host):
            log.warning(
                "listening on %s, not a loopback address: whoever reaches it with the token can run "
                "commands on this computer",
                self.settings.server.host,
            )
        if not args.verbose:
            # httpx logs every request at INFO: one line per proxied asset or service call.
            logging.getLogger("httpx").setLevel(logging.WARNING)

    def config(self, settings: Settings, app: FastAPI) -> uvicorn.Config:
        return uvicorn.Config(
            app,
            http=GuardedHttpProtocol,
            ws=RpcWebSocketProtocol,
            log_level="debug" if self.args.verbose else "warning",
            # uvicorn's loggers go to the root handler, through the redacting filter.
            log_config=None,
            access_log=False,
            timeout_graceful_shutdown=5,
            ws_max_size=settings.limits.message_bytes,
            # Compressing frames for a peer on loopback only costs CPU (browsers ask for it).
            ws_per_message_deflate=False,
        )

    async def serve(self, settings: Settings, app: FastAPI, *, shown_host: str | None = None) -> None:
        """Serve ``app`` on the bound socket; the ready line names ``shown_host`` (the host's
        ``localhost``) instead of the address when given."""
        token = settings.server.token or ""
        listener = Listener(settings.server.handshake_timeout, settings.server.pending_connections)
        config = self.config(settings, app)
        server = Server(config, self.sock, token, self.args.open, listener, shown_host, self.engine)
        await server.serve(sockets=[self.sock])

    def run(self, main: Callable[[], Coroutine[Any, Any, None]]) -> None:
        with asyncio.Runner(loop_factory=loop_factory()) as runner:
            runner.run(main())
