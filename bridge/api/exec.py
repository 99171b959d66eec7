"""``exec.run`` / ``exec.spawn`` / ``exec.kill``: every ddClient command, blocking or streamed.

Serves v1 ``extension.vm.cli.exec``, ``extension.host.cli.exec``, ``docker.cli.exec`` and v0
``execInContainer``, ``execInVMExtension``, ``spawnInVMExtension``, ``execHostCmd``,
``spawnHostCmd``, ``execDockerCmd``, ``spawnDockerCmd``. The ``target`` names where the command
runs; each target resolves to a ``RunningProcess`` and the rest is shared.

The ``env`` of the host-side targets (``host``, ``docker``: processes on the host) is checked
by ``bridge.processes.host_env``; that of ``vm`` and ``container:`` is not, as their processes
run inside the container.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field

from bridge.api.models import Params
from bridge.docker_engine import container_ref, is_container_ref
from bridge.errors import ExecError, InvalidParams, NotConfigured
from bridge.processes.base import ExecSpec, RunningProcess
from bridge.processes.container import ContainerProcess
from bridge.processes.host_binaries import open_host_binary
from bridge.processes.host_env import check_host_env
from bridge.processes.local import LocalProcess
from bridge.processes.output import NotificationSink, collect
from bridge.processes.reaper import adopt_orphans
from bridge.processes.shell_words import UnbalancedQuote, split_words
from bridge.rpc import AfterReply, MethodRouter
from bridge.stream_answer import STREAMS_PATH, Waiting

if TYPE_CHECKING:
    from bridge.connection import Session, StartProcess

router = MethodRouter("exec")


class ExecParams(Params):
    target: str = Field(pattern=r"^(host|vm|docker|container:.+)$")
    cmd: str = Field(min_length=1)
    args: list[str] = Field(default_factory=list)
    cwd: str | None = None
    env: dict[str, str] = Field(default_factory=dict)

    def spec(self) -> ExecSpec:
        return ExecSpec(self.cmd, self.args, self.cwd, self.env)


class SpawnParams(ExecParams):
    # Where the output goes: notifications on the page's socket, or an answer of its own
    # (``bridge.stream_answer``), which a browser reads several times as fast.
    output: Literal["notifications", "http"] = "notifications"


class KillParams(Params):
    stream: str


async def _start_host(spec: ExecSpec, session: Session) -> RunningProcess:
    folder = session.context.host_binaries
    if folder is None:
        raise NotConfigured(
            "no host binaries folder is configured: start ddbridge with --host-binaries DIR",
            setting="host_binaries.dir",
        )
    check_host_env(spec.env)
    adopt_orphans()
    binary = open_host_binary(folder, spec.cmd)
    cwd = spec.cwd or str(folder)
    try:
        return await LocalProcess.start(
            [binary.executable, *spec.args],
            cwd=cwd,
            env={**os.environ, **spec.env},
            pass_fds=[binary.folder_fd],
        )
    except OSError as exc:
        culprit = f"cwd {cwd!r}" if exc.filename == cwd else f"host binary {spec.cmd!r}"
        raise ExecError(
            f"cannot start host binary {spec.cmd!r}: {culprit}: {exc.strerror}", target="host", cmd=spec.cmd
        ) from exc
    finally:
        binary.close()


async def _start_in_container(params: ExecParams, session: Session) -> RunningProcess:
    """The exec in the ``vm`` or ``container:NAME`` container, once its name is one Docker could
    have given: the name becomes part of an Engine API path (``/containers/NAME/exec``)."""
    if params.target == "vm":
        container = session.context.vm_container
        if container is None:
            raise NotConfigured(
                "no extension VM container is configured: start ddbridge with --vm-container NAME "
                "(the container extension.vm.cli.exec runs in)",
                setting="docker.vm_container",
            )
        if not is_container_ref(container):
            raise NotConfigured(
                f"--vm-container {container!r} is not a container name or id", setting="docker.vm_container"
            )
        container = container.removeprefix("/")
        where = f"the extension's VM container {container!r}"
    else:
        container = container_ref(params.target.removeprefix("container:"), field="target")
        where = f"container {container!r}"
    return await ContainerProcess.start(
        session.daemon.docker, container, params.spec(), target=params.target, where=where
    )


async def _start_docker_cli(spec: ExecSpec, session: Session) -> RunningProcess:
    """The real docker CLI, pointed at the bridge's own engine through its environment."""
    check_host_env(spec.env, docker_cli=True)
    binary = shutil.which("docker")
    if binary is None:
        raise ExecError(
            "the docker CLI is not installed: no 'docker' binary on the PATH of the ddbridge daemon",
            target="docker",
            cmd=spec.cmd,
        )
    adopt_orphans()
    env = {**os.environ, **spec.env, **await session.daemon.docker.cli_env()}
    try:
        return await LocalProcess.start([binary, spec.cmd, *spec.args], cwd=spec.cwd, env=env)
    except OSError as exc:
        culprit = f"cwd {spec.cwd!r}" if spec.cwd is not None and exc.filename == spec.cwd else binary
        raise ExecError(
            f"cannot start docker {spec.cmd}: {culprit}: {exc.strerror}", target="docker", cmd=spec.cmd
        ) from exc


def docker_command_line(params: ExecParams) -> ExecParams:
    """The blocking ``docker`` form as Docker Desktop runs it: ``cmd`` and ``args`` joined with
    spaces and split again as a POSIX shell would (quotes and backslashes only; see
    ``bridge.processes.shell_words``), so ``--format="{{ .Name }}"`` loses its quotes and
    ``"--label a=b"`` is two words. The streaming form passes ``args`` as given (#303)."""
    line = " ".join([params.cmd, *params.args])
    try:
        words = split_words(line)
    except UnbalancedQuote as exc:
        raise InvalidParams(
            f"cannot split the command line of docker {params.cmd!r}: {exc}", field="args"
        ) from exc
    if not words:
        raise InvalidParams(f"the command line of docker {params.cmd!r} has no words", field="cmd")
    return params.model_copy(update={"cmd": words[0], "args": words[1:]})


async def start_process(params: ExecParams, session: Session) -> RunningProcess:
    if params.target == "host":
        return await _start_host(params.spec(), session)
    if params.target == "docker":
        return await _start_docker_cli(params.spec(), session)
    return await _start_in_container(params, session)


@router.method("run")
async def run(params: ExecParams, session: Session) -> dict[str, Any]:
    """Run to completion; the result is returned whatever the exit code (the client rejects)."""
    if params.target == "docker":
        params = docker_command_line(params)
    settings = session.daemon.settings.exec
    hold = session.reply_hold(f"the output of {params.cmd!r}")
    result = await session.run_process(
        lambda: start_process(params, session),
        lambda process: collect(
            process, cmd=params.cmd, max_output=settings.max_output, grace=settings.kill_grace, hold=hold
        ),
    )
    return result.to_wire()


async def stream_reply(session: Session, start: StartProcess, output: str) -> AfterReply:
    """Start a process as a stream of ``session`` and answer its id. Its notifications follow
    once the answer is sent; or the answer also names where its output is read, once."""
    stream = await session.open_stream(start)
    if output == "notifications":
        sink = NotificationSink(stream.id, session.notify)
        return AfterReply({"stream": stream.id}, lambda: stream.start(sink))

    wait = session.daemon.settings.exec.answer_wait

    async def unclaimed() -> None:
        await stream.abandon()
        message = (
            f"the output of stream {stream.id} was not read within {wait:g} s ([exec] answer_wait: "
            f"GET {STREAMS_PATH}…, as exec.spawn named it); its process was ended"
        )
        with contextlib.suppress(Exception):  # the page's socket is gone too: nobody to tell
            await session.notify("exec.error", {"stream": stream.id, "message": message})

    name = session.context.stream_answers.add(Waiting(stream, session.events), wait, unclaimed)
    return AfterReply({"stream": stream.id, "output": STREAMS_PATH + name}, lambda: None)


@router.method("spawn")
async def spawn(params: SpawnParams, session: Session) -> AfterReply:
    """Start a process and answer its stream id; output follows once the answer is sent."""
    return await stream_reply(session, lambda: start_process(params, session), params.output)


@router.method("kill")
async def kill(params: KillParams, session: Session) -> None:
    await session.stream(params.stream).kill()
