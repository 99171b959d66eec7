"""Record mode: what the real handlers answered, written as a mock file that ``--mock`` replays.

The recorded methods are wrapped (the real handler still answers); each new answer rewrites the
file atomically (a temporary file renamed over it), so a daemon that dies keeps what it had
recorded. A call already recorded with the same request is not recorded again: in replay the
first matching entry wins, so a later answer could never be played anyway.
"""

from __future__ import annotations

import codecs
import logging
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bridge.api.exec import ExecParams, SpawnParams, start_process, stream_reply
from bridge.api.service import ServiceRequest
from bridge.errors import ConfigError, ServiceError
from bridge.mock.script import DialogAnswer, ExecAnswer, ExecChunk, Script, ServiceAnswer, exec_key
from bridge.processes.base import STDOUT, Chunk, ExitStatus, RunningProcess
from bridge.rpc import AfterReply, plain
from bridge.rpc.dispatch import Handler, Method

if TYPE_CHECKING:
    from bridge.connection import Session

log = logging.getLogger("ddbridge.record")


def check_record_path(path: Path) -> None:
    """Refuse at start-up a path whose folder is missing (no folder is created) or a folder."""
    if not path.parent.is_dir():
        raise ConfigError(f"cannot record to {path}: the folder {path.parent} does not exist")
    if path.is_dir():
        raise ConfigError(f"cannot record to {path}: it is a folder")


class Recorder:
    """The recording so far, written to ``path`` after every new entry."""

    def __init__(self, path: Path) -> None:
        check_record_path(path)
        self.path = path
        self._service: dict[str, ServiceAnswer] = {}
        self._exec: dict[str, ExecAnswer] = {}
        self._lists: dict[str, list[Any]] = {}
        self._dialogs: list[DialogAnswer] = []
        self.write()

    def script(self) -> Script:
        fields: dict[str, Any] = {
            "service": list(self._service.values()),
            "exec": list(self._exec.values()),
            "dialog": self._dialogs,
        }
        if self._lists:
            fields["docker"] = self._lists
        return Script.model_validate(fields)

    def write(self) -> None:
        text = self.script().to_json()
        fd, temporary = tempfile.mkstemp(prefix=f".{self.path.name}.", dir=self.path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as file:
                file.write(text)
            os.replace(temporary, self.path)
        except OSError as exc:
            Path(temporary).unlink(missing_ok=True)
            log.error("cannot write the recording %s: %s", self.path, exc)

    def service(self, params: ServiceRequest, status: int, reason: str | None, body: Any) -> None:
        data = plain(params.data)  # a long one comes as the frame's text
        key = f"{params.method.upper()} {params.url} {data!r}"
        if key in self._service:
            return
        entry: dict[str, Any] = {"method": params.method.upper(), "url": params.url, "status": status}
        if data is not None:
            entry["data"] = data
        if reason is not None:
            entry["reason"] = reason
        entry["body"] = body
        self._service[key] = ServiceAnswer.model_validate(entry)
        self.write()

    def _exec_entry(self, params: ExecParams, fields: dict[str, Any]) -> None:
        """Adds what this kind of call (run: stdout/stderr; spawn: chunks) had not given yet."""
        key = exec_key(params.target, params.cmd, params.args)
        known = self._exec.get(key)
        base = {"target": params.target, "cmd": params.cmd, "args": params.args}
        if known is not None:
            new = {name: value for name, value in fields.items() if name not in known.model_fields_set}
            if set(new) <= {"code", "signal"}:
                return
            base = known.model_dump(exclude_unset=True)
            fields = new
        self._exec[key] = ExecAnswer.model_validate({**base, **fields})
        self.write()

    def exec_run(self, params: ExecParams, result: dict[str, Any]) -> None:
        fields = {name: result[name] for name in ("stdout", "stderr", "code")}
        if result.get("signal") is not None:
            fields["signal"] = result["signal"]
        self._exec_entry(params, fields)

    def exec_stream(self, params: ExecParams, chunks: list[ExecChunk], status: ExitStatus) -> None:
        fields: dict[str, Any] = {"chunks": chunks, "code": status.code}
        if status.signal is not None:
            fields["signal"] = status.signal
        self._exec_entry(params, fields)

    def docker_list(self, name: str, answer: Any) -> None:
        """The first answer to a list call (the engine's own text on Docker: ``RawJson``)."""
        if name not in self._lists:
            self._lists[name] = plain(answer)
            self.write()

    def dialog(self, answer: dict[str, Any]) -> None:
        if answer.get("interactive"):
            return  # the shim draws the dialog: its resolveDialog carries the answer
        entry = DialogAnswer.model_validate(answer)
        if not self._dialogs or self._dialogs[-1] != entry:
            self._dialogs.append(entry)
            self.write()


class RecordingProcess:
    """A ``RunningProcess`` passed through, noting its decoded output, the delays between chunks
    and its exit for the recorder."""

    def __init__(self, process: RunningProcess, done: Callable[[list[ExecChunk], ExitStatus], None]) -> None:
        self._process = process
        self._done = done
        self._chunks: list[ExecChunk] = []
        self._decoders = {fd: codecs.getincrementaldecoder("utf-8")("replace") for fd in (1, 2)}
        self._last = time.monotonic()

    @property
    def killed(self) -> bool:
        return self._process.killed

    def _note(self, fd: int, text: str) -> None:
        if not text:
            return
        now = time.monotonic()
        name = "stdout" if fd == STDOUT else "stderr"
        self._chunks.append(ExecChunk.model_validate({name: text, "delay": round(now - self._last, 3)}))
        self._last = now

    async def read(self) -> list[Chunk]:
        chunks = await self._process.read()
        for fd, data in chunks:
            self._note(fd, self._decoders[fd].decode(data))
        return chunks

    async def wait(self) -> ExitStatus:
        status = await self._process.wait()
        for fd, decoder in self._decoders.items():
            self._note(fd, decoder.decode(b"", final=True))
        self._done(self._chunks, status)
        return status

    async def terminate(self, grace: float) -> None:
        await self._process.terminate(grace)

    def close(self) -> None:
        self._process.close()


def recording_methods(recorder: Recorder, real: Callable[[str], Method | None]) -> list[Method]:
    """The recorded methods: each calls the real one (``real(name)``) and records its answer."""
    methods: list[Method] = []

    def wrap(name: str, record: Callable[[Any, Any], None]) -> None:
        method = real(name)
        if method is None:
            return
        handler: Handler = method.handler

        async def recorded(params: Any, session: Session) -> Any:
            result = await handler(params, session)
            record(params, result)
            return result

        methods.append(Method(name, method.params, recorded))

    async def service_request(params: ServiceRequest, session: Session) -> Any:
        original = real("service.request")
        assert original is not None
        try:
            body = await original.handler(params, session)
        except ServiceError as exc:
            recorder.service(params, exc.status_code, exc.reason, exc.message)
            raise
        recorder.service(params, 200, None, plain(body))
        return body

    async def spawn(params: SpawnParams, session: Session) -> AfterReply:
        async def start() -> RecordingProcess:
            return RecordingProcess(
                await start_process(params, session),
                lambda chunks, status: recorder.exec_stream(params, chunks, status),
            )

        return await stream_reply(session, start, params.output)

    methods.append(Method("service.request", ServiceRequest, service_request))
    methods.append(Method("exec.spawn", SpawnParams, spawn))
    wrap("exec.run", recorder.exec_run)
    wrap("docker.listContainers", lambda params, answer: recorder.docker_list("listContainers", answer))
    wrap("docker.listImages", lambda params, answer: recorder.docker_list("listImages", answer))
    # A dialog's answer is openDialog's when final (scripted), else resolveDialog's (the user's
    # choice in the shim's dialog); a cancel there never reaches the daemon.
    wrap("desktop.openDialog", lambda params, answer: recorder.dialog(answer))
    wrap("desktop.resolveDialog", lambda params, answer: recorder.dialog(answer))
    return methods
