"""``ddbridge doctor``: which Docker engine ddbridge uses, how it was chosen, and whether each
thing extensions need of it works, a line each: what to run first when an extension misbehaves.

The checks, in order (each one a ``Check`` with a status and a one-line reason):

- ``engine``: ``/version`` and ``/info`` answer (the rest is skipped when not);
- ``lists``: the container and image lists (the pages' ``listContainers``/``listImages``);
- ``exec``: an exec in a throwaway container of an image already there (nothing is pulled;
  ``--image`` names one), through the daemon's own ``ContainerProcess``;
- ``exec close``: a long exec ended from outside (what a page's ``close()`` does) has its
  process gone from the container, as the engine reports it;
- ``docker CLI``: ``docker version`` with ``DockerEngine.cli_env()``, and ``docker info``'s
  engine ID the same as the API's (Podman's: its name and storage root, its ID being made up
  anew at every call): ``docker.cli.exec`` talks to the same engine;
- ``compose``: ``docker compose`` or ``docker-compose`` runs (``vm.composefile`` backends);
- ``socket reach``: a file a container writes in a fresh run folder bound at
  ``/run/guest-services`` appears here, as a backend's socket must (an ssh:// engine: in the
  same folder made on its machine, from where backends' sockets are forwarded);
- ``/var/run/docker.sock``: whether that path on the engine's machine is this engine, which
  extensions' ``docker run -v /var/run/docker.sock:...`` lines rely on. The container compares
  the two files (``stat``: device and inode) when the engine is a unix socket; behind tcp://
  the engine's own socket is unknown and the image has no HTTP client to ask, so the answer is
  "unknown" when a socket is there. A wrong or missing socket is a warning, not a failure:
  only the extensions that bind it depend on it.

Exit code 0 when nothing failed, 1 otherwise; ``--json`` prints the report as one object.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import sys
import tempfile
from collections.abc import AsyncIterator, Awaitable
from contextlib import asynccontextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import aiodocker

from bridge.config import load_settings
from bridge.docker_engine import DockerEngine, EngineAddress
from bridge.engine_machine import EngineMachine
from bridge.errors import BridgeError, DockerUnavailable
from bridge.extension.engine import command_output
from bridge.extension.session import DESKTOP_SOCKET, engine_is_here, remote_backend
from bridge.podman import identity, is_podman
from bridge.processes.base import ExecSpec
from bridge.processes.container import ContainerProcess
from bridge.serving import engine_layer, engine_options

PASS, FAIL, WARN, SKIP, UNKNOWN = "pass", "fail", "warn", "skip", "unknown"
MARKS = {PASS: "✓", FAIL: "✗", WARN: "!", SKIP: "-", UNKNOWN: "?"}
LABEL = "ddbridge.doctor"
GUEST_SERVICES = "/run/guest-services"
# Seconds a check may take before it counts as failed (a hung engine must not hang the doctor).
_CHECK_TIMEOUT = 30.0
# Image names tried first for the throwaway container: they have sleep, sh, grep, kill and stat.
_SMALL_IMAGES = ("busybox", "alpine", "debian", "ubuntu")
_PROBE_SECONDS = "120"
_MARKER_TEXT = "ddbridge doctor"


@dataclass(frozen=True, slots=True)
class Check:
    name: str
    status: str
    detail: str

    def line(self) -> str:
        return f"{MARKS[self.status]} {self.name}: {self.detail}"


@dataclass
class Report:
    """What ``doctor`` found: the engine, its version (None when it did not answer), the checks."""

    address: EngineAddress
    version: dict[str, str] | None = None
    checks: list[Check] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(check.status != FAIL for check in self.checks)

    def lines(self) -> list[str]:
        address = self.address
        head = [
            f"engine:  {address.host}",
            f"context: {address.context or 'none (the default context)'}",
            f"chosen:  {address.source}",
        ]
        if self.version is not None:
            version = self.version
            head.append(
                f"version: {version['name']} {version['version']}, API {version['api']} "
                f"({version['os']}/{version['arch']})"
            )
        return head + [check.line() for check in self.checks]

    def to_json(self) -> dict[str, Any]:
        address = self.address
        return {
            "engine": {"host": address.host, "context": address.context, "source": address.source},
            "version": self.version,
            "checks": [asdict(check) for check in self.checks],
            "ok": self.ok,
        }


async def _timed(name: str, work: Awaitable[Check]) -> Check:
    """``work``'s check; an engine error or a timeout is that check's failure, in one line."""
    try:
        return await asyncio.wait_for(work, _CHECK_TIMEOUT)
    except TimeoutError:
        return Check(name, FAIL, f"no answer within {_CHECK_TIMEOUT:g} s")
    except BridgeError as exc:
        return Check(name, FAIL, exc.message)
    except aiodocker.DockerError as exc:
        return Check(name, FAIL, f"the engine refused: {exc.message}")


def _last_line(text: str) -> str:
    lines = text.splitlines()
    return lines[-1] if lines else "no output"


class Doctor:
    """The checks against one engine; ``image`` is the throwaway containers' (None: one found)."""

    def __init__(self, engine: DockerEngine, image: str | None = None) -> None:
        self.engine = engine
        self.image = image
        self.engine_id = ""
        # What tells the engine from another, and how the docker CLI prints it (bridge.podman).
        self.identity = ("", "{{.ID}}", "ID")

    @property
    def address(self) -> EngineAddress:
        return self.engine.address

    async def run(self) -> Report:
        report = Report(self.address)
        try:
            report.version = await asyncio.wait_for(self._version(), _CHECK_TIMEOUT)
        except (DockerUnavailable, aiodocker.DockerError, TimeoutError) as exc:
            reason = getattr(exc, "message", None) or f"no answer within {_CHECK_TIMEOUT:g} s"
            report.checks.append(Check("engine", FAIL, str(reason)))
            names = ("lists", "exec", "exec close", "docker CLI", "socket reach", str(DESKTOP_SOCKET))
            report.checks += [Check(name, SKIP, "skipped: no engine") for name in names]
            report.checks.append(await _timed("compose", self._compose()))
            return report
        report.checks.append(Check("engine", PASS, f"answers (ID {self.engine_id})"))
        image = self.image or await self._present_image()
        # Independent of one another: at once (the CLI and compose spend their time starting).
        lists, in_containers, cli, compose, desktop_socket = await asyncio.gather(
            _timed("lists", self._lists()),
            self._in_containers(image),
            _timed("docker CLI", self._cli()),
            _timed("compose", self._compose()),
            _timed(str(DESKTOP_SOCKET), self._desktop_socket(image)),
        )
        report.checks += [lists, *in_containers, cli, compose, desktop_socket]
        return report

    async def _version(self) -> dict[str, str]:
        version = await self.engine.get_json("version")
        info = await self.engine.get_json("info")
        self.engine_id = str(info.get("ID") or "")
        self.identity = identity(info, is_podman(version))
        components = version.get("Components") or [{}]
        name = str(components[0].get("Name") or "Engine")
        return {
            # Docker calls its component "Engine", Podman "Podman Engine".
            "name": "Docker Engine" if name == "Engine" else name,
            "version": str(version.get("Version", "?")),
            "api": str(version.get("ApiVersion", "?")),
            "os": str(version.get("Os", "?")),
            "arch": str(version.get("Arch", "?")),
            "id": self.engine_id,
        }

    async def _lists(self) -> Check:
        containers = await self.engine.get_json("containers/json", {"all": "1"})
        images = await self.engine.get_json("images/json")
        return Check("lists", PASS, f"{len(containers)} containers, {len(images)} images")

    async def _present_image(self) -> str | None:
        """A tagged image already on the engine, a small base image's first (None when the list
        fails: the lists check says why)."""
        try:
            images = await self.engine.get_json("images/json")
        except (BridgeError, aiodocker.DockerError):
            return None
        tags = [tag for image in images for tag in image.get("RepoTags") or [] if tag != "<none>:<none>"]
        small = [tag for tag in tags if any(name in tag.rsplit("/", 1)[-1] for name in _SMALL_IMAGES)]
        found: str | None = (small or tags or [None])[0]
        return found

    async def _in_containers(self, image: str | None) -> list[Check]:
        """exec, exec close and socket reach, in one throwaway container of ``image``."""
        names = ("exec", "exec close", "socket reach")
        if image is None:
            why = "skipped: no image on the engine (ddbridge pulls none; give --image IMAGE)"
            return [Check(name, SKIP, why) for name in names]
        here = await engine_is_here(self.address.host)
        async with _run_folder(here, self.engine.machine) as folder:
            binds = [f"{folder}:{GUEST_SERVICES}"] if folder is not None else []
            try:
                async with _probe(self.engine, image, binds) as container:
                    return [
                        await _timed("exec", self._exec(container, image)),
                        await _timed("exec close", self._exec_close(container)),
                        await _timed("socket reach", self._socket_reach(container, here, folder)),
                    ]
            except (BridgeError, aiodocker.DockerError) as exc:
                reason = getattr(exc, "message", str(exc))
                return [Check(name, FAIL, f"cannot start a container of {image}: {reason}") for name in names]

    async def _run_in(self, container: str, *argv: str) -> tuple[int, str]:
        process = await ContainerProcess.start(
            self.engine,
            container,
            ExecSpec(argv[0], argv[1:]),
            target="doctor",
            where=f"container {container[:12]}",
        )
        output = b""
        try:
            while chunks := await process.read():
                output += b"".join(data for _, data in chunks)
            return (await process.wait()).code, output.decode(errors="replace").strip()
        finally:
            process.close()

    async def _exec(self, container: str, image: str) -> Check:
        code, output = await self._run_in(container, "echo", _MARKER_TEXT)
        if code != 0 or output != _MARKER_TEXT:
            return Check(
                "exec", FAIL, f"`echo` in a container of {image} gave exit {code}: {_last_line(output)}"
            )
        return Check("exec", PASS, f"ran `echo` in a throwaway container of {image}")

    async def _exec_close(self, container: str) -> Check:
        spec = ExecSpec("sleep", ["300"])
        process = await ContainerProcess.start(
            self.engine, container, spec, target="doctor", where="the container"
        )
        try:
            await process.terminate(1.0)
            status = await asyncio.wait_for(process.wait(), 5)
        except TimeoutError:
            return Check(
                "exec close",
                FAIL,
                "`sleep 300` runs on in the container after its stream was closed (the image needs sh, grep "
                "and kill for ddbridge to end it)",
            )
        finally:
            process.close()
        ended = status.signal or f"exit {status.code}"
        return Check("exec close", PASS, f"closing the stream ended `sleep 300` in the container ({ended})")

    async def _socket_reach(self, container: str, here: bool | None, folder: Path | None) -> Check:
        """Whether what a backend makes in its guest-services folder is where ddbridge finds it:
        in the folder here, or (an ssh:// engine) in the same folder on the engine's machine,
        from where the backend's socket is forwarded as the engine's own socket is."""
        if here is False or folder is None:
            return Check("socket reach", FAIL, str(remote_backend(self.address)))
        code, output = await self._run_in(container, "touch", f"{GUEST_SERVICES}/reach")
        if code != 0:
            return Check("socket reach", FAIL, f"cannot write in {GUEST_SERVICES}: {_last_line(output)}")
        where = "here" if here else "on the engine's machine"
        if not await self.engine.machine.holds(folder / "reach"):
            return Check(
                "socket reach",
                FAIL,
                f"a file a container wrote in {GUEST_SERVICES} did not appear in {folder} {where}: the "
                "engine's machine does not share that folder with its containers (a VM?): backends' "
                "sockets cannot reach ddbridge",
            )
        forwarded = "" if here else " (backends' sockets are forwarded from there over ssh)"
        return Check(
            "socket reach",
            PASS,
            f"a file a container wrote in {GUEST_SERVICES} appeared in {folder} {where}{forwarded}",
        )

    async def _cli(self) -> Check:
        env = {**os.environ, **await self.engine.cli_env()}
        code, version = await command_output(["docker", "version", "--format", "{{.Client.Version}}"], env)
        if code != 0:
            return Check("docker CLI", FAIL, f"`docker version` failed (exit {code}): {_last_line(version)}")
        expected, cli_format, what = self.identity
        code, ident = await command_output(["docker", "info", "--format", cli_format], env)
        if code != 0:
            return Check("docker CLI", FAIL, f"`docker info` failed (exit {code}): {_last_line(ident)}")
        if ident != expected:
            return Check(
                "docker CLI",
                FAIL,
                f"the docker CLI reaches another engine ({what} {ident}, the API's is {expected}): "
                "docker.cli.exec would act elsewhere",
            )
        return Check("docker CLI", PASS, f"docker {version} reaches the same engine ({what} {expected})")

    async def _compose(self) -> Check:
        env = {**os.environ, **await self.engine.cli_env()}
        tried = []
        for argv in (["docker", "compose"], ["docker-compose"]):
            code, output = await command_output([*argv, "version", "--short"], env)
            if code == 0:
                return Check("compose", PASS, f"`{' '.join(argv)}` {_last_line(output)}")
            tried.append(f"`{' '.join(argv)}`: {_last_line(output)}")
        return Check(
            "compose",
            FAIL,
            f"no compose runs ({'; '.join(tried)}): extensions with a vm.composefile need docker compose "
            "or docker-compose",
        )

    async def _desktop_socket(self, image: str | None) -> Check:
        name = str(DESKTOP_SOCKET)
        if image is None:
            return Check(name, SKIP, "skipped: no image on the engine (give --image IMAGE)")
        host = self.address.host
        own = await self.engine.machine.engine_socket()
        sources = [name] + ([own] if own is not None else [])
        code, output = await _stat_on_engine(self.engine, image, sources)
        if code is None:
            missing = output
            if missing == name:
                return Check(
                    name,
                    WARN,
                    f"there is none on the engine's machine: extensions that bind-mount {name} get an "
                    "empty folder there (see the README, Which engine)",
                )
            # The engine's own socket is not a path of its machine (forwarded to a VM): the host
            # path alone is stat'ed.
            code, output = await _stat_on_engine(self.engine, image, [name])
            own = None
        if code is None or code != 0:
            return Check(
                name, UNKNOWN, f"cannot look at it from a container of {image}: {_last_line(output)}"
            )
        # "socket 64768:1234" per path ("%F" may have spaces: "regular empty file").
        kinds = [line.rsplit(" ", 1) for line in output.splitlines()]
        if kinds[0][0] != "socket":
            return Check(name, WARN, f"it is a {kinds[0][0]} on the engine's machine, not a socket")
        if own is None:
            return Check(
                name,
                UNKNOWN,
                f"a socket is there on the engine's machine, but which engine answers on it cannot be told "
                f"from {host} (nothing in {image} can ask it)",
            )
        if len(kinds) > 1 and kinds[0][1] == kinds[1][1]:
            return Check(name, PASS, f"is this engine's socket on its machine (the same file as {own})")
        return Check(
            name,
            WARN,
            f"is another socket than this engine's ({own}): extensions that bind-mount it reach another "
            "engine (unless this one listens there too)",
        )


def _new_run_folder() -> Path:
    folder = Path(tempfile.mkdtemp(prefix="ddbridge-doctor-", dir="/tmp"))
    folder.chmod(0o777)  # the image's user may not be root
    return folder


@asynccontextmanager
async def _run_folder(here: bool | None, machine: EngineMachine) -> AsyncIterator[Path | None]:
    """A fresh run folder, like ``ddbridge run``'s: here when the engine's containers bind this
    machine's folders; made on the engine's machine too when that is another one reached over
    ssh (``here`` None), as a backend's is; None when backends cannot run on the engine."""
    if here is False:
        yield None
        return
    folder = _new_run_folder()
    try:
        if here is None:
            await machine.mirror(folder)
        yield folder
    finally:
        if here is None:
            await machine.discard(folder)
        shutil.rmtree(folder, ignore_errors=True)


def _container_config(image: str, entrypoint: list[str], host_config: dict[str, Any]) -> dict[str, Any]:
    return {
        "Image": image,
        "Entrypoint": entrypoint,
        "Cmd": [],
        "Labels": {LABEL: "1"},
        "HostConfig": {"NetworkMode": "none", **host_config},
    }


@asynccontextmanager
async def _container(
    engine: DockerEngine, config: dict[str, Any]
) -> AsyncIterator[aiodocker.containers.DockerContainer]:
    """A container made for one check, removed at the end whatever happened."""
    async with engine.translate() as client:
        container = await client.containers.create(config)
    try:
        yield container
    finally:
        async with engine.translate():
            await container.delete(force=True)


@asynccontextmanager
async def _probe(engine: DockerEngine, image: str, binds: list[str]) -> AsyncIterator[str]:
    """A running throwaway container of ``image`` (sleeping), its id."""
    config = _container_config(image, ["sleep", _PROBE_SECONDS], {"Binds": binds})
    async with _container(engine, config) as container:
        async with engine.translate():
            await container.start()
        yield container.id


async def _stat_on_engine(engine: DockerEngine, image: str, sources: list[str]) -> tuple[int | None, str]:
    """``stat`` (type, device:inode) of paths on the engine's machine, bound read-only into a
    container that does nothing else: its exit code and output; ``(None, path)`` when a path is
    not there (a bind mount does not make it, as ``-v`` would)."""
    targets = [f"/ddbridge/{index}" for index in range(len(sources))]
    mounts = [
        {"Type": "bind", "Source": source, "Target": target, "ReadOnly": True}
        for source, target in zip(sources, targets, strict=True)
    ]
    config = _container_config(image, ["stat", "-L", "-c", "%F %d:%i", *targets], {"Mounts": mounts})
    try:
        async with _container(engine, config) as container, engine.translate():
            await container.start()
            code = (await container.wait(timeout=_CHECK_TIMEOUT)).get("StatusCode", -1)
            logs = await container.log(stdout=True, stderr=True)
    except aiodocker.DockerError as exc:
        missing = [source for source in sources if source in str(exc.message)]
        if exc.status == 400 and missing:
            return None, missing[0]
        raise
    return int(code), "".join(logs).strip()


def add_command(commands: argparse._SubParsersAction[Any]) -> None:
    doctor = commands.add_parser(
        "doctor", help="check the Docker engine ddbridge uses, a line per capability"
    )
    doctor.add_argument("--config", type=Path, metavar="FILE", help="TOML settings ([docker])")
    engine_options(doctor)
    doctor.add_argument(
        "--image", metavar="IMAGE", help="image of the throwaway containers (default: one present)"
    )
    doctor.add_argument("--json", action="store_true", help="print the report as JSON")


async def _report(address: EngineAddress, image: str | None) -> Report:
    engine = DockerEngine(address)
    try:
        return await Doctor(engine, image).run()
    finally:
        await engine.aclose()


def run_doctor(args: argparse.Namespace) -> int:
    """``ddbridge doctor``: 0 when no check failed, 1 when one did."""
    engine = engine_layer(args)
    settings = load_settings(args.config, {"docker": engine} if engine else {})
    report = asyncio.run(_report(EngineAddress.resolve(settings.docker), args.image))
    if args.json:
        print(json.dumps(report.to_json(), indent=1))
    else:
        print("\n".join(report.lines()))
    sys.stdout.flush()
    return 0 if report.ok else 1
