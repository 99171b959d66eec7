"""``ddbridge host``: the extensions host daemon.

One daemon serves its shell at ``http://localhost:PORT/`` and every installed extension on its
own origin. At start it brings every extension's backend up again (concurrently, in the
background: the shell answers at once and shows each one starting); at exit it stops them. It
writes where it listens, with its token, to ``host.json`` beside the store (mode 0600), which is
how ``ddbridge extension …`` finds it; a second host on the same store is refused.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import fcntl
import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

from bridge.api.host import host_info
from bridge.app import assemble, credentials_for, extension_registry
from bridge.auth import Credentials
from bridge.config import Settings
from bridge.context import ContextTable
from bridge.daemon import Daemon
from bridge.errors import ConfigError
from bridge.host.contexts import shell_context
from bridge.host.management import management_router
from bridge.host.manager import ExtensionHost
from bridge.host.shell import ShellPages
from bridge.host.store import Store, data_root
from bridge.progress import Progress
from bridge.serving import Runner, server_options

DISCOVERY = "host.json"
LOCK = "host.lock"


def add_command(commands: argparse._SubParsersAction[Any]) -> None:
    host = commands.add_parser("host", help="run the extensions host: installed extensions, side by side")
    host.add_argument(
        "--data-dir", type=Path, metavar="DIR", help="the store (default $XDG_DATA_HOME/ddbridge)"
    )
    server_options(host, one_extension=False)


def data_dir_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--data-dir", type=Path, metavar="DIR", help="where the store is (default $XDG_DATA_HOME/ddbridge)"
    )


@contextmanager
def single_host(root: Path) -> Iterator[IO[str]]:
    """Hold the store's host lock for as long as the host runs, or refuse with one line."""
    root.mkdir(parents=True, exist_ok=True, mode=0o700)
    with (root / LOCK).open("a") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            found = read_discovery(root)
            where = f" at {found['url']}" if found else ""
            raise ConfigError(f"another ddbridge host uses {root}{where}; stop it first") from None
        yield lock


def write_discovery(root: Path, url: str, token: str) -> None:
    """``host.json``: where the host listens and its token, for the CLI (the user's only)."""
    path = root / DISCOVERY
    partial = path.with_suffix(".partial")
    descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as file:
        json.dump({"url": url, "token": token, "pid": os.getpid()}, file)
    os.replace(partial, path)


def read_discovery(root: Path) -> dict[str, str] | None:
    try:
        found = json.loads((root / DISCOVERY).read_text())
    except (OSError, ValueError):
        return None
    return found if isinstance(found, dict) and {"url", "token"} <= found.keys() else None


def store_root(args: argparse.Namespace) -> Path:
    """``--data-dir``, else ``$XDG_DATA_HOME/ddbridge``."""
    return Path(args.data_dir).expanduser() if getattr(args, "data_dir", None) else data_root()


def host_daemon(
    settings: Settings, store: Store, credentials: Credentials, port: int
) -> tuple[ExtensionHost, Daemon]:
    """The host's extensions and the daemon serving them with its shell. The CLI uses the same
    pair on the store without serving it, so both do every operation alike."""
    host = ExtensionHost(settings, store, credentials, port, lambda: extension_registry(settings))
    registry = extension_registry(settings, (management_router(host),))
    shell = shell_context(settings, registry, ShellPages(port, host.icon_of))
    daemon = Daemon(settings, host_info(), ContextTable(shell, subdomains=True))
    host.attach(daemon)
    return host, daemon


def run_host(args: argparse.Namespace) -> int:
    runner = Runner(args)
    settings = runner.settings
    root = store_root(args)
    with single_host(root):
        store = Store(root)
        port = runner.sock.getsockname()[1]
        credentials = credentials_for(settings)
        host, daemon = host_daemon(settings, store, credentials, port)
        progress = Progress(sys.stderr, interactive=False)
        starting: set[asyncio.Task[None]] = set()

        async def on_start() -> None:
            write_discovery(root, f"http://localhost:{port}/", settings.server.token or "")

            async def bring_up() -> None:
                await host.start_all(progress)
                await host.keep_up(progress)

            task = asyncio.create_task(bring_up())
            starting.add(task)
            task.add_done_callback(starting.discard)

        async def on_stop() -> None:
            for task in starting:
                task.cancel()
            with contextlib.suppress(OSError):
                (root / DISCOVERY).unlink()
            await host.stop_all()

        app = assemble(daemon, credentials, on_start=on_start, on_stop=on_stop)
        runner.run(lambda: runner.serve(settings, app, shown_host="localhost"))
    return 0
