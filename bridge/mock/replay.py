"""Mock mode: the scripted methods answered from a mock file instead of the backend, host or engine.

Only the methods the file scripts are replaced (``service.request``, ``exec.run``,
``exec.spawn``, the two list calls, ``desktop.openDialog``); everything else (``host.*``,
``desktop.toast``, ``exec.kill``) is the real handler. A spawned exec is a ``ScriptedProcess``
behind the ordinary ``Stream``, so notifications, ``exec.kill`` and closing the page behave as
with a real process.

One method is added, ``mock.set``: the answers of one test, in the file's format, tried before
the file's until the next ``mock.set`` (``{}`` drops them). Test fixtures set them for a test
and drop them after it, so one daemon serves a whole test run.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections import deque
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import TYPE_CHECKING, Any

from bridge.api.docker import ListContainersParams, ListImagesParams
from bridge.api.exec import ExecParams, SpawnParams, stream_reply
from bridge.api.models import Params
from bridge.api.service import ServiceRequest
from bridge.errors import NoMockAnswer, ServiceError
from bridge.mock.script import (
    DialogAnswer,
    ExecAnswer,
    ExecChunk,
    Script,
    ServiceAnswer,
    closest,
    exec_key,
    service_key,
)
from bridge.processes.base import STDERR, STDOUT, Chunk, ExitStatus
from bridge.rpc import AfterReply, MethodRouter, plain

if TYPE_CHECKING:
    from bridge.connection import Session

log = logging.getLogger("ddbridge.mock")

# What a terminated process reports, as a real one ended by SIGTERM does.
_TERMINATED = ExitStatus(128 + 15, "SIGTERM")


class DialogParams(Params):
    """``desktop.openDialog``'s params as the shim sends them; a mock ignores the options."""

    props: Any = None


class ScriptedProcess:
    """A ``RunningProcess`` that plays an exec's chunks with their delays, then exits."""

    def __init__(self, chunks: list[ExecChunk], status: ExitStatus) -> None:
        self._chunks = deque(chunks)
        self._status = status
        self._killed = False
        self._ended = asyncio.Event()

    @property
    def killed(self) -> bool:
        return self._killed

    async def read(self) -> list[Chunk]:
        if self._killed or not self._chunks:
            self._ended.set()
            return []
        chunk = self._chunks.popleft()
        if chunk.delay > 0:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._ended.wait(), chunk.delay)
            if self._killed:
                return []
        if chunk.stdout is not None:
            return [(STDOUT, chunk.stdout.encode())]
        return [(STDERR, (chunk.stderr or "").encode())]

    async def wait(self) -> ExitStatus:
        return _TERMINATED if self._killed else self._status

    async def terminate(self, grace: float) -> None:
        """Ends it unless it has already played all its output (then it exits as scripted)."""
        if not self._ended.is_set():
            self._killed = True
            self._ended.set()

    def close(self) -> None:
        """Nothing to release."""


@dataclass
class Answers:
    """The file's answers and the current test's (``mock.set``), which come first."""

    file: Script
    test: Script = field(default_factory=Script)
    file_dialogs: deque[DialogAnswer] = field(init=False)
    test_dialogs: deque[DialogAnswer] = field(default_factory=deque)

    def __post_init__(self) -> None:
        self.file_dialogs = deque(self.file.dialog)

    def service(self) -> list[ServiceAnswer]:
        return [*self.test.service, *self.file.service]

    def exec(self) -> list[ExecAnswer]:
        return [*self.test.exec, *self.file.exec]

    def listed(self, name: str) -> list[Any] | None:
        answer: list[Any] | None = getattr(self.test.docker, name)
        return answer if answer is not None else getattr(self.file.docker, name)

    def dialog(self) -> DialogAnswer | None:
        """The next dialog answer, the test's first; each list's last one repeats."""
        dialogs = self.test_dialogs or self.file_dialogs
        if not dialogs:
            return None
        return dialogs.popleft() if len(dialogs) > 1 else dialogs[0]


def mock_routers(script: Script) -> list[MethodRouter]:
    """The replacing methods, answering from ``script`` (and ``mock.set``): first matching entry wins."""
    service = MethodRouter("service")
    execs = MethodRouter("exec")
    docker = MethodRouter("docker")
    desktop = MethodRouter("desktop")
    mock = MethodRouter("mock")
    answers = Answers(script)

    @service.method("request")
    async def request(params: ServiceRequest, session: Session) -> Any:
        for entry in answers.service():
            if entry.matches(params.method, params.url, plain(params.data)):
                if 200 <= entry.status < 300:
                    return entry.body
                body = entry.body if isinstance(entry.body, str) else json.dumps(entry.body)
                raise ServiceError(entry.status, entry.reason or _reason(entry.status), body)
        call = service_key(params.method, params.url)
        raise NoMockAnswer(call, closest(call, (entry.key for entry in answers.service())), "service answers")

    def find(params: ExecParams) -> ExecAnswer:
        for entry in answers.exec():
            if entry.matches(params.target, params.cmd, params.args):
                return entry
        call = exec_key(params.target, params.cmd, params.args)
        raise NoMockAnswer(call, closest(call, (entry.key for entry in answers.exec())), "execs")

    @execs.method("run")
    async def run(params: ExecParams, session: Session) -> dict[str, Any]:
        entry = find(params)
        return {
            "cmd": params.cmd,
            "code": entry.code,
            "signal": entry.signal,
            "killed": False,
            "stdout": entry.output("stdout"),
            "stderr": entry.output("stderr"),
        }

    @execs.method("spawn")
    async def spawn(params: SpawnParams, session: Session) -> AfterReply:
        entry = find(params)

        async def scripted() -> ScriptedProcess:
            return ScriptedProcess(entry.stream(), ExitStatus(entry.code, entry.signal))

        return await stream_reply(session, scripted, params.output)

    def listed(name: str) -> list[Any]:
        answer = answers.listed(name)
        if answer is None:
            raise NoMockAnswer(f"docker.{name}", [], f"docker.{name} answer")
        return answer

    @docker.method("listContainers")
    async def list_containers(params: ListContainersParams, session: Session) -> list[Any]:
        return listed("listContainers")

    @docker.method("listImages")
    async def list_images(params: ListImagesParams, session: Session) -> list[Any]:
        return listed("listImages")

    @desktop.method("openDialog")
    async def open_dialog(params: DialogParams, session: Session) -> dict[str, Any]:
        """The answers in order, for every page of the daemon; the last one repeats."""
        answer = answers.dialog()
        if answer is None:
            raise NoMockAnswer("desktop.openDialog", [], "dialog answers")
        return answer.model_dump(mode="json")

    @mock.method("set")
    async def set_answers(params: Script, session: Session) -> None:
        """Replaces the test's answers (any page or client of the daemon may: in mock mode an
        answer is only data sent back to pages; nothing runs)."""
        answers.test = params
        answers.test_dialogs = deque(params.dialog)
        log.info(
            "mock.set: %d service, %d exec, %d dialog answers before the file's",
            len(params.service),
            len(params.exec),
            len(params.dialog),
        )

    return [service, execs, docker, desktop, mock]


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""
