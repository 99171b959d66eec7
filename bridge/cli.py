"""``ddbridge``: the command line.

- ``serve``: the daemon, given its backend, UI and binaries by flags;
- ``dev DIR``: an extension from its source folder (metadata.json), with its backend;
- ``run IMAGE``: an extension image, as ``docker extension install`` would run it.

``run``, and ``dev`` when metadata.json has a ``vm``, run the backend in Docker
(``bridge.extension.docker_backend``); ``dev --backend-cmd`` runs it as a host process instead.

Usage errors, unreadable configuration, bad metadata, missing folders and a missing image print
one line and exit 2; a failure while starting the extension (no engine, a backend that dies, a
failed build) prints one line and exits 1.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import socket
import sys
import webbrowser
from collections.abc import AsyncIterator, Callable, Coroutine, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from types import FrameType
from typing import Any, NoReturn
from urllib.parse import urlencode

import uvicorn

from bridge import __version__
from bridge.auth import TOKEN_QUERY, new_token
from bridge.config import Settings, load_settings, with_overrides
from bridge.context import ExtensionInfo
from bridge.dialogs import load_script
from bridge.docker_engine import DockerEngine, EngineAddress
from bridge.errors import ConfigError
from bridge.extension.backend import SOCKET_ENV, Backend, HostCommandBackend
from bridge.extension.docker_backend import docker_backend, needs_plugin_image
from bridge.extension.engine import require_engine
from bridge.extension.image import (
    ImageNotFound,
    build_image,
    default_cache_dir,
    extract_extension,
    inspect_image,
)
from bridge.extension.metadata import ExtensionError, MetadataError
from bridge.extension.model import Extension
from bridge.extension.session import BackendFactory, Runtime, running_extension
from bridge.listener import (
    STATE_KEY,
    GuardedHttpProtocol,
    GuardedWebSocketProtocol,
    Listener,
    raise_descriptor_limit,
)
from bridge.mock import check_mock_settings
from bridge.progress import Progress
from bridge.redaction import RedactingFilter
from bridge.security import is_loopback

USAGE_ERROR = 2
START_FAILURE = 1

log = logging.getLogger("ddbridge")


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.exit(USAGE_ERROR, f"ddbridge: {message} (see {self.prog} --help)\n")


def _server_options(parser: argparse.ArgumentParser) -> None:
    """The options of the daemon itself, shared by every command that runs it."""
    parser.add_argument("--config", type=Path, metavar="FILE", help="TOML settings (flags override it)")
    parser.add_argument("--host", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, help="port to bind (default 7700; 0 picks a free one)")
    backend = parser.add_mutually_exclusive_group()
    backend.add_argument("--backend-socket", type=Path, metavar="PATH", help="extension backend unix socket")
    backend.add_argument("--backend-url", metavar="URL", help="extension backend base URL (http)")
    ui = parser.add_mutually_exclusive_group()
    ui.add_argument("--ui", type=Path, metavar="DIR", help="extension UI folder served at /")
    ui.add_argument("--ui-source", metavar="URL", help="UI dev server to proxy at / (hot reload included)")
    parser.add_argument("--host-binaries", type=Path, metavar="DIR", help="binaries host.cli.exec may run")
    parser.add_argument(
        "--docker-host",
        metavar="URL",
        help="Docker engine address (default: DOCKER_HOST or the local socket)",
    )
    parser.add_argument(
        "--vm-container", metavar="NAME", help="container extension.vm.cli.exec runs in (the backend)"
    )
    parser.add_argument(
        "--allow-origin", action="append", metavar="ORIGIN", help="extra origin allowed on the WebSocket"
    )
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
    mock = parser.add_mutually_exclusive_group()
    mock.add_argument(
        "--mock", type=Path, metavar="FILE", help="answer service calls, execs, lists and dialogs from FILE"
    )
    mock.add_argument("--record", type=Path, metavar="FILE", help="record what the session answered to FILE")
    parser.add_argument("--open", action="store_true", help="open the UI in the browser once ready")
    parser.add_argument("--verbose", "-v", action="store_true", help="log debug details")


def _extension_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--keep", action="store_true", help="leave the backend and runtime folder at exit")
    parser.add_argument(
        "--cache-dir",
        type=Path,
        metavar="DIR",
        help="where an image's files are extracted (default: $XDG_CACHE_HOME/ddbridge/extensions)",
    )
    parser.add_argument(
        "--backend-timeout",
        type=float,
        default=120.0,
        metavar="SECONDS",
        help="how long to wait for the backend's socket (default 120)",
    )


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="ddbridge", description="Docker Desktop extension UIs in a plain browser.")
    parser.add_argument("--version", action="version", version=f"ddbridge {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    serve = commands.add_parser("serve", help="run the bridge daemon")
    _server_options(serve)
    dev = commands.add_parser("dev", help="run an extension from its source folder")
    dev.add_argument("folder", type=Path, metavar="DIR", help="the extension folder (holds metadata.json)")
    backend = dev.add_mutually_exclusive_group()
    backend.add_argument(
        "--backend-cmd",
        metavar="CMD",
        help=f"run the backend as this host command (no Docker), listening on the socket ${SOCKET_ENV}",
    )
    backend.add_argument(
        "--image",
        metavar="IMAGE",
        help="the image ${DESKTOP_PLUGIN_IMAGE} stands for (default: built from DIR's Dockerfile)",
    )
    dev.add_argument(
        "--build-arg",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a build argument for that build (repeatable)",
    )
    _extension_options(dev)
    _server_options(dev)
    run = commands.add_parser("run", help="run an extension image, as Docker Desktop would")
    run.add_argument("image", metavar="IMAGE", help="the extension image (ddbridge does not pull it)")
    _extension_options(run)
    _server_options(run)
    return parser


def _flag_layer(args: argparse.Namespace) -> dict[str, dict[str, Any]]:
    """The settings the flags give, by section; flags not given leave the lower layers alone."""
    mapping = {
        ("server", "host"): args.host,
        ("server", "port"): args.port,
        ("server", "allow_origins"): args.allow_origin,
        ("server", "allow_hosts"): args.allow_host,
        ("server", "token"): args.token,
        ("backend", "socket"): args.backend_socket,
        ("backend", "url"): args.backend_url,
        ("ui", "dir"): args.ui,
        ("ui", "source"): args.ui_source,
        ("host_binaries", "dir"): args.host_binaries,
        ("docker", "host"): args.docker_host,
        ("docker", "vm_container"): args.vm_container,
        ("dialog", "roots"): args.dialog_root,
        ("dialog", "script"): args.dialog_script,
        ("mock", "file"): args.mock,
        ("mock", "record"): args.record,
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
    if settings.dialog.script is not None:
        load_script(settings.dialog.script)
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
    return sock


def _with_token(settings: Settings) -> Settings:
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


class _Server(uvicorn.Server):
    """uvicorn's server, announcing the ready line once it accepts connections, and showing
    every connection to the ``Listener`` (bridge.listener)."""

    def __init__(
        self,
        config: uvicorn.Config,
        sock: socket.socket,
        token: str,
        open_browser: bool,
        listener: Listener,
    ) -> None:
        super().__init__(config)
        self.sock = sock
        self.token = token
        self.open_browser = open_browser
        self.listener = listener

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
            shown = f"[{host}]" if ":" in host else host
            url = f"http://{shown}:{port}/"
            login = f"?{urlencode({TOKEN_QUERY: self.token})}" if self.token else ""
            print(f"ddbridge listening on {url}{login}", flush=True)
            print(f"inspector: {url}_ddbridge/{login}", file=sys.stderr, flush=True)
            if self.open_browser:
                await asyncio.to_thread(webbrowser.open, url + login)


def _loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop when installed (uvicorn[standard] brings it), as uvicorn itself would choose."""
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop


class _Daemon:
    """The parts of a command that run the server: settings, the bound socket, logging."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        logging.basicConfig(
            level=logging.DEBUG if args.verbose else logging.INFO,
            format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        )
        raise_descriptor_limit()
        self.settings = _with_token(load_settings(args.config, _flag_layer(args)))
        # Every record, uvicorn's and websockets' too (see log_config below), passes this handler.
        redacting = RedactingFilter([self.settings.server.token or ""])
        for handler in logging.getLogger().handlers:
            handler.addFilter(redacting)
        check_mock_settings(self.settings)
        self.sock = _bind(self.settings.server.host, self.settings.server.port)
        if not is_loopback(self.settings.server.host):
            log.warning(
                "listening on %s, not a loopback address: whoever reaches it with the token can run "
                "commands on this computer",
                self.settings.server.host,
            )
        if not args.verbose:
            # httpx logs every request at INFO: one line per proxied asset or service call.
            logging.getLogger("httpx").setLevel(logging.WARNING)

    def config(self, settings: Settings, extension: ExtensionInfo | None = None) -> uvicorn.Config:
        from bridge.app import create_app

        _check_folders(settings)
        return uvicorn.Config(
            create_app(settings, extension),
            http=GuardedHttpProtocol,
            ws=GuardedWebSocketProtocol,
            log_level="debug" if self.args.verbose else "warning",
            # uvicorn's loggers go to the root handler, through the redacting filter.
            log_config=None,
            access_log=False,
            timeout_graceful_shutdown=5,
            ws_max_size=settings.limits.message_bytes,
            # Compressing frames for a peer on loopback only costs CPU (browsers ask for it).
            ws_per_message_deflate=False,
        )

    async def serve(self, settings: Settings, extension: ExtensionInfo | None = None) -> None:
        token = settings.server.token or ""
        listener = Listener(settings.server.handshake_timeout, settings.server.pending_connections)
        server = _Server(self.config(settings, extension), self.sock, token, self.args.open, listener)
        await server.serve(sockets=[self.sock])

    def run(self, main: Callable[[], Coroutine[Any, Any, None]]) -> None:
        with asyncio.Runner(loop_factory=_loop_factory()) as runner:
            runner.run(main())


def serve(args: argparse.Namespace) -> int:
    daemon = _Daemon(args)
    _check_folders(daemon.settings)
    daemon.run(lambda: daemon.serve(daemon.settings))
    return 0


@asynccontextmanager
async def _engine(settings: Settings) -> AsyncIterator[DockerEngine]:
    """The engine the extension's backend runs on: the daemon's, as the settings name it."""
    engine = DockerEngine(EngineAddress.resolve(settings.docker))
    try:
        yield engine
    finally:
        await engine.aclose()


async def _serve_extension(
    daemon: _Daemon, extension: Extension, backend_for: BackendFactory, progress: Progress
) -> None:
    for warning in extension.metadata.warnings:
        progress.warn(warning)
    async with running_extension(
        extension, daemon.settings, backend_for, progress, keep=daemon.args.keep
    ) as settings:
        await daemon.serve(settings, ExtensionInfo.of(extension))


def _cache_dir(args: argparse.Namespace) -> Path:
    return Path(args.cache_dir or default_cache_dir()).expanduser().resolve()


async def _dev_image(
    args: argparse.Namespace,
    extension: Extension,
    engine: DockerEngine,
    progress: Progress,
    needed: bool,
    why: tuple[str, str] = (
        "the extension's backend runs in Docker (metadata.json has a vm)",
        "start Docker, or give --backend-cmd CMD to run the backend on the host",
    ),
) -> str:
    """The extension's image (``${DESKTOP_PLUGIN_IMAGE}``): ``--image``, else, when ``needed``,
    built from DIR; ``why`` says what needs the engine, and what else to do."""
    await require_engine(engine, *why)
    if args.image is not None:
        await inspect_image(engine, args.image)
        return str(args.image)
    if not needed:
        return ""
    tag = f"ddbridge-dev/{extension.name}:latest"
    async with progress.step(f"Building {tag} from {extension.root}") as step:
        await build_image(engine, extension.root, tag, args.build_arg, step)
    return tag


def _flag_parts(settings: Settings, args: argparse.Namespace, mocked: bool) -> frozenset[str]:
    """The parts of metadata.json the flags replace (their names in ``extract_extension``)."""
    given = {
        "ui.dashboard-tab.root": settings.ui.dir is not None or settings.ui.source is not None,
        "host.binaries": settings.host_binaries.dir is not None,
        "vm.composefile": args.backend_cmd is not None or mocked,
    }
    return frozenset(part for part, flagged in given.items() if flagged)


def dev(args: argparse.Namespace) -> int:
    daemon = _Daemon(args)
    progress = Progress()
    folder = Extension.from_folder(args.folder)
    # A mock session answers from its file: no backend is started (nor Docker needed for it).
    mocked = daemon.settings.mock.file is not None
    in_docker = folder.metadata.manifest.vm is not None and args.backend_cmd is None and not mocked
    flagged = _flag_parts(daemon.settings, args, mocked)
    # Real extensions often leave these to their Dockerfile (COPY ui/build /ui, binaries from a
    # build stage): then the files come from the image, as `run` takes them. Without a Dockerfile
    # or --image the folder's own error says what is missing.
    absent = folder.missing(
        ui="ui.dashboard-tab.root" not in flagged,
        host_binaries="host.binaries" not in flagged,
        composefile="vm.composefile" not in flagged,
    )
    from_image = bool(absent) and (args.image is not None or (folder.root / "Dockerfile").is_file())

    async def main() -> None:
        async with _engine(daemon.settings) as engine:
            extension, image = folder, ""
            if from_image:
                why = (
                    f"{folder.root} does not hold {', '.join(absent)}: they come from its image",
                    "start Docker, or build them into the folder",
                )
                image = await _dev_image(args, folder, engine, progress, True, why)
                progress.info(
                    f"{folder.root} does not hold {', '.join(absent)}: taking the extension's files "
                    f"from the image {image}, as `ddbridge run` does"
                )
                extension = await extract_extension(
                    engine, image, _cache_dir(args), daemon.settings.extension, progress, flagged
                )
            elif in_docker:
                image = await _dev_image(args, folder, engine, progress, needs_plugin_image(folder))

            def backend_for(runtime: Runtime) -> Backend | None:
                if mocked:
                    return None
                if args.backend_cmd is not None:
                    return HostCommandBackend(
                        args.backend_cmd,
                        cwd=folder.root,
                        socket_path=runtime.socket_path(extension),
                        timeout=args.backend_timeout,
                    )
                if in_docker:
                    return docker_backend(extension, runtime, engine, image, args.backend_timeout)
                return None

            await _serve_extension(daemon, extension, backend_for, progress)

    daemon.run(main)
    return 0


def run(args: argparse.Namespace) -> int:
    daemon = _Daemon(args)
    progress = Progress()
    cache_dir = _cache_dir(args)

    async def main() -> None:
        async with _engine(daemon.settings) as engine:
            extension = await extract_extension(
                engine, args.image, cache_dir, daemon.settings.extension, progress
            )

            def backend_for(runtime: Runtime) -> Backend | None:
                if extension.metadata.manifest.vm is None:
                    return None
                return docker_backend(extension, runtime, engine, args.image, args.backend_timeout)

            await _serve_extension(daemon, extension, backend_for, progress)

    daemon.run(main)
    return 0


COMMANDS = {"serve": serve, "dev": dev, "run": run}


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except (ConfigError, MetadataError, ImageNotFound) as exc:
        print(f"ddbridge: {exc}", file=sys.stderr)
        return USAGE_ERROR
    except ExtensionError as exc:
        print(f"ddbridge: {exc}", file=sys.stderr)
        return START_FAILURE
    except KeyboardInterrupt:
        return 0
