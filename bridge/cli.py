"""``ddbridge``: the command line.

- ``serve``: the daemon, given its backend, UI and binaries by flags;
- ``dev DIR``: an extension from its source folder (metadata.json), with its backend;
- ``run IMAGE``: an extension image, as ``docker extension install`` would run it;
- ``host``: the extensions host, installed extensions side by side (``bridge.host.command``);
- ``extension …``: the ``docker extension`` verbs for it (``bridge.host.extension_cli``);
- ``doctor``: the Docker engine in use and a check of what extensions need of it (``bridge.doctor``).

``run``, and ``dev`` when metadata.json has a ``vm``, run the backend in Docker
(``bridge.extension.docker_backend``); ``dev --backend-cmd`` runs it as a host process instead.

Usage errors, unreadable configuration, bad metadata, missing folders and a missing image print
one line and exit 2; a failure while starting the extension (no engine, a backend that dies, a
failed build) prints one line and exits 1.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path

from bridge import __version__, doctor
from bridge.app import create_app
from bridge.config import Settings
from bridge.context import ExtensionInfo
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
from bridge.extension.session import (
    BackendFactory,
    Runtime,
    engine_is_here,
    remote_backend,
    running_extension,
)
from bridge.host import command as host_command
from bridge.host import extension_cli
from bridge.progress import Progress
from bridge.serving import START_FAILURE, USAGE_ERROR, Parser, Runner, check_folders, server_options


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
    parser = Parser(prog="ddbridge", description="Docker Desktop extension UIs in a plain browser.")
    parser.add_argument("--version", action="version", version=f"ddbridge {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=Parser)
    serve = commands.add_parser("serve", help="run the bridge daemon")
    server_options(serve)
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
    server_options(dev)
    run = commands.add_parser("run", help="run an extension image, as Docker Desktop would")
    run.add_argument("image", metavar="IMAGE", help="the extension image (ddbridge does not pull it)")
    _extension_options(run)
    server_options(run)
    host_command.add_command(commands)
    extension_cli.add_command(commands)
    doctor.add_command(commands)
    return parser


def serve(args: argparse.Namespace) -> int:
    daemon = Runner(args)
    check_folders(daemon.settings)
    daemon.run(lambda: daemon.serve(daemon.settings, create_app(daemon.settings)))
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
    daemon: Runner, extension: Extension, backend_for: BackendFactory, progress: Progress
) -> None:
    for warning in extension.metadata.warnings:
        progress.warn(warning)
    async with running_extension(
        extension, daemon.settings, backend_for, progress, keep=daemon.args.keep
    ) as settings:
        check_folders(settings)
        await daemon.serve(settings, create_app(settings, ExtensionInfo.of(extension)))


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
    daemon = Runner(args)
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
            # Before a build: a backend on another machine's tcp:// engine cannot be reached.
            if in_docker and await engine_is_here(engine.host) is False:
                raise remote_backend(engine.address)
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
    daemon = Runner(args)
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


COMMANDS = {
    "serve": serve,
    "dev": dev,
    "run": run,
    "host": host_command.run_host,
    "extension": extension_cli.run_extension,
    "doctor": doctor.run_doctor,
}


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
