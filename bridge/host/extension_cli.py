"""``ddbridge extension …``: the ``docker extension`` CLI's verbs and flags, for the extensions host.

With a host running on the store (``host.json`` names it and it answers), each verb is a call of
its management methods, its progress drawn here as it happens; without one, the verb works on the
store itself, through the same ``ExtensionHost`` (an install then stops the backend it checked:
the host starts it when it starts). ``validate`` and ``init`` need no host.

Exit codes as the rest of the CLI: 0, 1 for a failure while doing it (an install that failed, an
engine that does not answer), 2 for a usage error or a bad store; every error one line.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import secrets
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
from websockets.exceptions import WebSocketException

from bridge.app import credentials_for
from bridge.config import Settings, load_settings
from bridge.docker_engine import EngineAddress
from bridge.errors import ConfigError
from bridge.extension.metadata import ExtensionError
from bridge.host import scaffold, table, validate
from bridge.host.command import data_dir_option, host_daemon, read_discovery, store_root
from bridge.host.store import Store
from bridge.progress import Progress
from bridge.serving import engine_layer, engine_options
from bridge.testing.client import BridgeClient, RpcFailure

CONSENT = (
    "Extensions can install binaries, invoke commands, access files on your machine and connect to "
    "remote URLs. Are you sure you want to continue? [y/N] "
)
PROGRESS = "extensions.progress"


def add_command(commands: argparse._SubParsersAction[Any]) -> None:
    extension = commands.add_parser("extension", help="manage the extensions host's extensions")
    verbs = extension.add_subparsers(dest="verb", required=True, parser_class=type(extension))

    def verb(
        name: str, help_text: str, *aliases: str, under: argparse._SubParsersAction[Any] = verbs
    ) -> argparse.ArgumentParser:
        parser: argparse.ArgumentParser = under.add_parser(name, help=help_text, aliases=list(aliases))
        data_dir_option(parser)
        engine_options(parser, when=" (no host running)")
        parser.add_argument("--config", type=Path, metavar="FILE", help="TOML settings")
        return parser

    for name, help_text, metavar in (
        ("install", "install an extension image", "IMAGE[:TAG]"),
        ("update", "update an extension to another tag", "IMAGE:TAG"),
    ):
        parser = verb(name, help_text)
        parser.add_argument("image", metavar=metavar)
        parser.add_argument("-f", "--force", action="store_true", help="do not ask for consent")
        parser.add_argument("--no-pull", action="store_true", help="do not pull a missing image")
        parser.set_defaults(handler=functools.partial(_image_verb, verb=name))
    listing = verb("ls", "list installed extensions", "list")
    listing.add_argument("--format", choices=("table", "json"), default="table", help="output format")
    listing.set_defaults(handler=_ls)
    remove = verb("rm", "remove an extension", "uninstall")
    remove.add_argument("name", metavar="EXTENSION")
    remove.set_defaults(handler=_rm)
    check = verb("validate", "check an extension image or metadata.json")
    check.add_argument("target", metavar="IMAGE|metadata.json")
    check.set_defaults(handler=_validate)
    init = verbs.add_parser("init", help="create a new extension's folder")
    init.add_argument("name", metavar="NAME")
    init.set_defaults(handler=_init)
    dev = verbs.add_parser("dev", help="develop an installed extension")
    dev_verbs = dev.add_subparsers(dest="dev_verb", required=True, parser_class=type(extension))
    ui_source = verb("ui-source", "serve the extension's UI from a dev server", under=dev_verbs)
    ui_source.add_argument("name", metavar="EXTENSION")
    ui_source.add_argument("url", metavar="URL")
    ui_source.set_defaults(handler=_ui_source)
    reset = verb("reset", "serve the extension's own UI again", under=dev_verbs)
    reset.add_argument("name", metavar="EXTENSION")
    reset.set_defaults(handler=_reset)


def run_extension(args: argparse.Namespace) -> int:
    handler: Callable[[argparse.Namespace], int] = args.handler
    return handler(args)


# The two ways of doing a verb: through the running host, or on the store.


# Where a verb is done: the running host's methods, or an ``ExtensionHost`` of our own.
Call = Callable[[str, dict[str, Any]], Awaitable[Any]]


def _settings(args: argparse.Namespace) -> Settings:
    engine = engine_layer(args)
    settings = load_settings(getattr(args, "config", None), {"docker": engine} if engine else {})
    # Now, so that a context that is not there is one line before the verb does anything.
    EngineAddress.resolve(settings.docker)
    return settings


async def _running_host(root: Path) -> dict[str, str] | None:
    """The host serving this store, if one answers where ``host.json`` says."""
    found = read_discovery(root)
    if found is None:
        return None
    try:
        async with httpx.AsyncClient(timeout=3) as client:
            answer = await client.get(found["url"].rstrip("/") + "/healthz")
    except httpx.HTTPError:
        return None
    return found if answer.status_code == 200 else None


@asynccontextmanager
async def _target(args: argparse.Namespace, progress: Progress) -> AsyncIterator[Call]:
    root = store_root(args)
    found = await _running_host(root)
    if found is not None:
        url = "ws" + found["url"].removeprefix("http").rstrip("/") + "/rpc"

        def notified(method: str, params: dict[str, Any]) -> None:
            if method == PROGRESS and isinstance(params.get("event"), dict):
                progress.show(params["event"])

        connecting = BridgeClient.connect(url, found["token"] or None, on_notification=notified)
        try:
            async with connecting as client:

                async def remote(method: str, params: dict[str, Any]) -> Any:
                    try:
                        return await client.call(method, params, timeout=3600)
                    except RpcFailure as exc:
                        raise ExtensionError(exc.message) from None
                    except (ConnectionError, TimeoutError) as exc:
                        raise ExtensionError(
                            f"the host at {found['url']} went away during {method}: {exc}"
                        ) from None

                yield remote
        except (OSError, WebSocketException) as exc:
            raise ExtensionError(f"cannot talk to the host at {found['url']}: {exc}") from None
        return
    settings = _settings(args)
    # The host's logic on the store; nobody serves its contexts.
    host, daemon = host_daemon(settings, Store(root), credentials_for(settings), 0)

    async def local(method: str, params: dict[str, Any]) -> Any:
        name = method.removeprefix("extensions.")
        if name == "list":
            return await host.listing()
        if name == "install":
            hosted = await host.install(params["image"], progress, pull=params["pull"])
            with contextlib.suppress(ExtensionError, OSError):
                await host.stop(hosted)
            progress.info("the backend starts with `ddbridge host`")
            return await host.describe(hosted)
        if name == "update":
            hosted = await host.update(params["image"], progress, pull=params["pull"])
            with contextlib.suppress(ExtensionError, OSError):
                await host.stop(hosted)
            return await host.describe(hosted)
        if name == "remove":
            return {"name": params["name"], "keptVolumes": await host.remove(params["name"], progress)}
        if name == "uiSource":
            return await host.describe(host.set_ui_source(params["name"], params["url"]))
        raise ExtensionError(f"{method} needs a running host")

    try:
        yield local
    finally:
        await daemon.aclose()


def _run(args: argparse.Namespace, body: Callable[[Call, Progress], Awaitable[int]]) -> int:
    progress = Progress()

    async def main() -> int:
        async with _target(args, progress) as call:
            return await body(call, progress)

    return asyncio.run(main())


def _consented(args: argparse.Namespace) -> bool:
    if args.force:
        return True
    if not sys.stdin.isatty():
        raise ConfigError("installing needs consent: run it in a terminal, or give -f/--force")
    return input(CONSENT).strip().lower() in ("y", "yes")


# The verbs


def _image_verb(args: argparse.Namespace, verb: str) -> int:
    """``install`` or ``update``: the image's pull and steps drawn as they happen."""
    if not _consented(args):
        print(f"{verb} cancelled", file=sys.stderr)
        return 1

    async def body(call: Call, progress: Progress) -> int:
        params = {"image": args.image, "pull": not args.no_pull, "operation": secrets.token_hex(4)}
        entry = await call(f"extensions.{verb}", params)
        done = "installed" if verb == "install" else f"updated to {entry['version']}"
        print(f"Extension {entry['title']} successfully {done}", file=sys.stderr)
        return 0

    return _run(args, body)


def _rm(args: argparse.Namespace) -> int:
    async def body(call: Call, progress: Progress) -> int:
        answer = await call("extensions.remove", {"name": args.name})
        print(f"Extension {args.name} successfully removed", file=sys.stderr)
        for volume in answer["keptVolumes"]:
            print(
                f"  kept the named volume {volume} (remove it with: docker volume rm {volume})",
                file=sys.stderr,
            )
        return 0

    return _run(args, body)


def _ls(args: argparse.Namespace) -> int:
    async def body(call: Call, progress: Progress) -> int:
        rows = [_row(entry) for entry in await call("extensions.list", {})]
        print(table.render_json(rows) if args.format == "json" else table.render_table(rows))
        return 0

    return _run(args, body)


def _row(entry: dict[str, Any]) -> table.Row:
    """A row of ``ls`` from what the host says of an extension (``ExtensionHost.describe``)."""
    containers = entry["containers"]
    return table.Row(
        name=entry["name"],
        provider=entry["provider"],
        version=entry["version"],
        image=entry["image"],
        tab=entry["ui"][0] if entry["ui"] else None,
        containers=tuple(containers) if containers is not None else None,
        host_binaries=len(entry["hostBinaries"]),
        failure=entry["error"] if entry["status"] == "failed" else None,
    )


def _ui_source(args: argparse.Namespace) -> int:
    async def body(call: Call, progress: Progress) -> int:
        await call("extensions.uiSource", {"name": args.name, "url": args.url})
        print(f"the UI of {args.name} now comes from {args.url}", file=sys.stderr)
        return 0

    return _run(args, body)


def _reset(args: argparse.Namespace) -> int:
    async def body(call: Call, progress: Progress) -> int:
        await call("extensions.uiSource", {"name": args.name, "url": None})
        print(f"the UI of {args.name} is its own again", file=sys.stderr)
        return 0

    return _run(args, body)


def _validate(args: argparse.Namespace) -> int:
    problems = asyncio.run(validate.validate_target(args.target, _settings(args)))
    for problem in problems:
        print(problem)
    if not problems:
        print(f"{args.target}: the extension is valid", file=sys.stderr)
    return 1 if problems else 0


def _init(args: argparse.Namespace) -> int:
    folder = scaffold.create(Path(args.name))
    print(f"created the extension {folder}: see {folder / 'README.md'}", file=sys.stderr)
    return 0
