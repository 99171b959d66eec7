"""The table of streams waiting for their HTTP answer, and which origin may read one."""

from __future__ import annotations

import asyncio

import httpx

from bridge.api.host import host_info
from bridge.app import assemble, single_context
from bridge.auth import Credentials
from bridge.config import Settings
from bridge.context import ContextTable
from bridge.daemon import Daemon
from bridge.mock.replay import ScriptedProcess
from bridge.mock.script import ExecChunk
from bridge.processes.base import ExitStatus
from bridge.processes.output import Stream
from bridge.stream_answer import STREAMS_PATH, Waiting, WaitingStreams, record

TOKEN = "t" * 32


def test_a_record_is_its_kind_its_length_then_its_bytes() -> None:
    assert record(1, b"hi") == b"\x01\x00\x00\x00\x02hi"
    assert record(0, b"") == b"\x00\x00\x00\x00\x00"
    assert record(2, b"x" * 70000)[:5] == b"\x02\x00\x01\x11\x70"


def _stream(stream_id: str = "1") -> Stream:
    process = ScriptedProcess([ExecChunk(stdout="hello\n", delay=0)], ExitStatus(0))
    return Stream(stream_id, process, 0.1)


def _waiting(daemon: Daemon, stream: Stream) -> Waiting:
    return Waiting(stream, daemon.events.connect("127.0.0.1:1", None))


def _daemon(table: ContextTable | None = None) -> Daemon:
    settings = Settings()
    return Daemon(settings, host_info(), table or ContextTable(single_context(settings)))


async def _nothing() -> None:
    return None


async def test_a_name_is_claimed_once_and_a_claim_stops_the_clock() -> None:
    table = WaitingStreams()
    expired: list[str] = []

    async def unclaimed() -> None:
        expired.append("late")

    name = table.add(_waiting(_daemon(), _stream()), 0.05, unclaimed)
    assert len(name) >= 21, "128 random bits"
    assert table.claim(name) is not None and table.claim(name) is None
    await asyncio.sleep(0.1)
    assert expired == [] and len(table) == 0


async def test_an_unclaimed_name_expires_and_a_finished_stream_is_forgotten() -> None:
    table = WaitingStreams()
    expired: list[str] = []

    async def unclaimed() -> None:
        expired.append("late")

    daemon = _daemon()
    late = table.add(_waiting(daemon, _stream("1")), 0.05, unclaimed)
    ended = _stream("2")
    gone = table.add(_waiting(daemon, ended), 0.05, unclaimed)
    await ended.abandon()  # never started: abandoning lets it go at once
    assert table.claim(gone) is None
    await asyncio.sleep(0.15)
    assert expired == ["late"], "only the stream still waiting expired"
    assert table.claim(late) is None


async def test_a_name_answers_only_on_the_origin_that_started_it() -> None:
    """The extensions host serves each extension on its own origin: a name one extension's page
    was given opens nothing on another's, nor on the shell's, whatever credential it carries."""
    shell, alpha, beta = (single_context(Settings()) for _ in range(3))
    daemon = _daemon(ContextTable(shell, {"alpha": alpha, "beta": beta}, subdomains=True))
    app = assemble(daemon, Credentials(token=TOKEN, secret=b"s" * 32))
    name = alpha.stream_answers.add(_waiting(daemon, _stream()), 30, _nothing)
    transport = httpx.ASGITransport(app=app)
    headers = {"Authorization": f"Bearer {TOKEN}"}
    async with httpx.AsyncClient(transport=transport, headers=headers) as client:
        for host in ("beta.localhost:7700", "localhost:7700", "127.0.0.1:7700"):
            answer = await client.get(f"http://{host}{STREAMS_PATH}{name}")
            assert answer.status_code == 404, host
        answer = await client.get(f"http://alpha.localhost:7700{STREAMS_PATH}{name}")
    assert answer.status_code == 200
    assert answer.content.startswith(record(1, b"hello\n"))
    assert b'"method":"exec.exit"' in answer.content
