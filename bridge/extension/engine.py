"""The Docker engine as ``ddbridge run`` and ``dev`` use it: Engine API calls whose failures become
one-line ``ExtensionError``s, and docker CLI commands (build, compose) shown as progress.

The daemon's own calls report engine errors to the page (``bridge.errors``); here the reader is
the person at the terminal, and every failure ends the command, so each one is a single line
naming the engine's address and what was being done.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from pathlib import Path

import aiodocker

from bridge.docker_engine import DockerEngine
from bridge.errors import DockerUnavailable
from bridge.extension.metadata import ExtensionError
from bridge.progress import Step

log = logging.getLogger("ddbridge.docker")

# Lines of a failed command's output quoted in its error (the rest is in the --verbose log).
_TAIL_LINES = 5
# A step's detail is one terminal line.
_DETAIL_WIDTH = 70


@asynccontextmanager
async def engine_errors(engine: DockerEngine, doing: str) -> AsyncIterator[aiodocker.Docker]:
    """The engine's client; "cannot connect" and refused calls become ``ExtensionError``.

    Callers that give a status a meaning of its own (a 404 is "no such image") catch
    ``aiodocker.DockerError`` inside the block first.
    """
    try:
        async with engine.translate() as client:
            yield client
    except DockerUnavailable as exc:
        raise ExtensionError(exc.message) from exc
    except aiodocker.DockerError as exc:
        raise ExtensionError(f"{doing}: {exc.message} (Docker engine at {engine.host})") from exc


async def require_engine(engine: DockerEngine, why: str, remedy: str) -> None:
    """Fail now, saying why the engine is needed and what to do, when it does not answer."""
    try:
        await engine.get_json("version")
    except DockerUnavailable as exc:
        raise ExtensionError(f"{why}, but {exc.message}; {remedy}") from exc


async def command_output(argv: Sequence[str], env: Mapping[str, str]) -> tuple[int, str]:
    """Run a short command (a ``version`` probe) to its end: its exit code and its output
    (stdout and stderr, stripped); 127 and why when it cannot run at all."""
    try:
        process = await asyncio.create_subprocess_exec(
            *argv,
            env=dict(env),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
    except OSError as exc:
        return 127, f"cannot run {argv[0]}: {exc.strerror}"
    try:
        out, _ = await process.communicate()
    finally:
        if process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await process.wait()
    return process.returncode or 0, out.decode(errors="replace").strip()


async def succeeds(argv: Sequence[str], env: Mapping[str, str]) -> bool:
    """Whether a short command (a ``version`` probe) runs and exits 0."""
    return (await command_output(argv, env))[0] == 0


async def run_cli(
    argv: Sequence[str],
    *,
    env: Mapping[str, str],
    what: str,
    step: Step | None = None,
    cwd: Path | None = None,
) -> None:
    """Run a docker CLI command to its end, its latest output line as the step's detail.

    A non-zero exit raises ``ExtensionError`` quoting the last lines of output; the whole output
    goes to the log (``--verbose``). The process is killed if the command is interrupted.
    """
    try:
        process = await asyncio.create_subprocess_exec(
            *argv,
            env=dict(env),
            cwd=cwd,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
    except OSError as exc:
        raise ExtensionError(f"{what}: cannot run {argv[0]}: {exc.strerror}") from exc
    tail: deque[str] = deque(maxlen=_TAIL_LINES)
    try:
        assert process.stdout is not None
        async for raw in process.stdout:
            line = raw.decode(errors="replace").strip()
            if line:
                log.debug("%s | %s", argv[0], line)
                tail.append(line)
                if step is not None:
                    step.detail = line[:_DETAIL_WIDTH]
        code = await process.wait()
    finally:
        if process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await process.wait()
    if code != 0:
        raise ExtensionError(f"{what} failed (exit code {code}): {' | '.join(tail) or 'no output'}")
