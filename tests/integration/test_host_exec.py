"""exec.run / exec.spawn / exec.kill on host binaries, through a real daemon."""

from __future__ import annotations

import asyncio
import os
import signal
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from bridge.testing import BridgeClient, RpcFailure
from tests.conftest import write_script
from tests.support.processes import (
    HostProcess,
    RunningBridge,
    host_processes,
    marked_host_processes,
    still_running_after,
)

pytestmark = pytest.mark.integration


@pytest.fixture
def running(bridge: Callable[..., RunningBridge], host_binaries: Path, tmp_path: Path) -> RunningBridge:
    config = tmp_path / "exec.toml"
    config.write_text("[exec]\nkill_grace = 0.5\nmax_output = 1048576\n")
    return bridge("--config", config, "--host-binaries", host_binaries)


@pytest.fixture
async def client(running: RunningBridge) -> AsyncIterator[BridgeClient]:
    async with BridgeClient.connect(running.ws_url) as connected:
        yield connected


def host(cmd: str, *args: str, **extra: Any) -> dict[str, Any]:
    return {"target": "host", "cmd": cmd, "args": list(args), **extra}


def tagged(cmd: str, *args: str, tag: str) -> dict[str, Any]:
    """``host(cmd, *args)`` with ``DDB_TAG=tag`` in its environment, which all it starts inherits
    (whatever it does to its session or process group): the test finds them by it."""
    return host(cmd, *args, env={"DDB_TAG": tag})


def new_tag() -> str:
    return uuid.uuid4().hex


def pids_running(tag: str) -> list[HostProcess]:
    return marked_host_processes(f"DDB_TAG={tag}".encode())


async def wait_gone(tag: str, seconds: float = 5) -> list[HostProcess]:
    for _ in range(int(seconds * 20)):
        left = pids_running(tag)
        if not left:
            return []
        await asyncio.sleep(0.05)
    return pids_running(tag)


async def test_blocking_exec_splits_stdout_and_stderr(client: BridgeClient) -> None:
    result = await client.call("exec.run", host("greet", "a b", "c"))
    assert result == {
        "cmd": "greet",
        "code": 0,
        "signal": None,
        "killed": False,
        "stdout": "hello a b c\n",
        "stderr": "to stderr\n",
    }


async def test_non_zero_exit_is_a_result_not_an_error(client: BridgeClient) -> None:
    result = await client.call("exec.run", host("fail"))
    assert result["code"] == 3
    assert result["stdout"] == "partial\n"
    assert result["stderr"] == "it broke\n"


async def test_cwd_and_env_are_honoured(client: BridgeClient, tmp_path: Path) -> None:
    result = await client.call("exec.run", host("where", cwd=str(tmp_path), env={"DDB_VAR": "set by page"}))
    assert result["stdout"] == f"{tmp_path}\nDDB_VAR=set by page\n"


async def test_default_cwd_is_the_binaries_folder(client: BridgeClient, host_binaries: Path) -> None:
    result = await client.call("exec.run", host("where"))
    assert result["stdout"].splitlines()[0] == str(host_binaries.resolve())


async def test_arguments_are_argv_not_shell(client: BridgeClient, tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    result = await client.call("exec.run", host("greet", f"; touch {marker}", "$(id)", "`id`"))
    assert result["stdout"] == f"hello ; touch {marker} $(id) `id`\n"
    assert not marker.exists()


@pytest.mark.parametrize(
    ("cmd", "message"),
    [
        ("../greet", "'..' is not allowed"),
        ("/bin/sh", "absolute paths are not allowed"),
        ("nope", "not found in the host binaries folder"),
    ],
)
async def test_refused_binaries(client: BridgeClient, cmd: str, message: str) -> None:
    with pytest.raises(RpcFailure) as caught:
        await client.call("exec.run", host(cmd))
    assert caught.value.code == -32002
    assert message in caught.value.message


async def test_a_name_without_its_suffix_is_not_found_as_on_docker_desktop(
    client: BridgeClient, host_binaries: Path, tmp_path: Path
) -> None:
    """``exec("host-tool")`` when only ``host-tool.sh`` is there: Docker Desktop runs the file
    named exactly (its "Invoke host binaries" guide calls ``exec("hello.sh")`` on Linux and
    ``exec("hello.cmd")`` on Windows), so nothing runs, and the error names the file to call.
    The advice lists the folder only: a name with a folder in it, or one leading outside, gets
    none (no listing of other places)."""
    ran = tmp_path / "ran"
    write_script(host_binaries, "host-tool.sh", f'touch "{ran}"\n')
    write_script(host_binaries, "host-tool.sh.bak", "exit 0\n")
    for method in ("exec.run", "exec.spawn"):
        with pytest.raises(RpcFailure) as caught:
            await client.call(method, host("host-tool"))
        assert caught.value.code == -32002
        message = caught.value.message
        assert "host binary 'host-tool' not found in the host binaries folder" in message
        assert "it has 'host-tool.sh', 'host-tool.sh.bak'" in message
        assert "call exec('host-tool.sh', ...)" in message
    assert not ran.exists()
    assert (await client.call("exec.run", host("host-tool.sh")))["code"] == 0 and ran.exists()
    outside = tmp_path / "outside"
    write_script(outside, "secret.sh", "exit 0\n")
    (host_binaries / "out").symlink_to(outside)
    write_script(host_binaries / "sub", "tool.sh", "exit 0\n")
    for cmd, hidden in (("out/secret", "secret.sh"), ("sub/tool", "tool.sh"), ("nope", "it has")):
        with pytest.raises(RpcFailure) as caught:
            await client.call("exec.run", host(cmd))
        assert caught.value.code == -32002 and hidden not in caught.value.message, cmd


async def test_a_binary_keeps_its_name_and_finds_the_files_beside_it(
    client: BridgeClient, host_binaries: Path
) -> None:
    """Run through the checked folder's descriptor, a binary still sees its own name in
    ``argv[0]`` and ``$0`` (multi-call binaries, usage lines), and a script's
    ``$(dirname "$0")`` is its folder, as when Docker Desktop runs it by path."""
    write_script(host_binaries / "tools", "lib.sh", "echo from the lib\n")
    write_script(
        host_binaries / "tools",
        "wrapper",
        'echo "name=$(basename "$0")"; . "$(dirname "$0")/lib.sh"; "$(dirname "$0")/../greet" sibling\n',
    )
    result = await client.call("exec.run", host("tools/wrapper"))
    assert result["stdout"] == "name=wrapper\nfrom the lib\nhello sibling\n", result


async def test_symlink_leaving_the_folder_is_refused(client: BridgeClient, host_binaries: Path) -> None:
    (host_binaries / "sneaky").symlink_to("/bin/sh")
    with pytest.raises(RpcFailure, match="outside the host binaries folder"):
        await client.call("exec.run", host("sneaky", "-c", "id"))


async def test_bad_cwd_is_named(client: BridgeClient, tmp_path: Path) -> None:
    missing = str(tmp_path / "missing")
    with pytest.raises(RpcFailure) as caught:
        await client.call("exec.run", host("greet", cwd=missing))
    assert caught.value.code == -32002
    assert missing in caught.value.message


async def test_bad_target_and_params(client: BridgeClient) -> None:
    with pytest.raises(RpcFailure) as caught:
        await client.call("exec.run", {"target": "moon", "cmd": "x"})
    assert caught.value.code == -32602 and "target" in caught.value.message
    with pytest.raises(RpcFailure) as caught:
        await client.call("exec.run", {"target": "host", "cmd": "greet", "args": "not a list"})
    assert caught.value.code == -32602 and "args" in caught.value.message


async def test_blocking_output_cap(client: BridgeClient, host_binaries: Path) -> None:
    write_script(host_binaries, "flood", "yes flood\n")
    tag = new_tag()
    with pytest.raises(RpcFailure) as caught:
        await client.call("exec.run", tagged("flood", tag=tag))
    assert caught.value.code == -32005
    assert "stream" in caught.value.message and "1048576" in caught.value.message
    assert await wait_gone(tag) == []


async def test_unicode_split_across_chunks(client: BridgeClient, host_binaries: Path) -> None:
    # "é" is 0xC3 0xA9 and "😀" is four bytes: written a byte at a time with pauses between.
    write_script(
        host_binaries,
        "slowbytes",
        "printf '\\303'; sleep 0.1; printf '\\251 '; sleep 0.1; printf '\\360\\237'; sleep 0.1; "
        "printf '\\230\\200'; printf '\\377\\n'\n",
    )
    result = await client.call("exec.run", host("slowbytes"))
    assert result["stdout"] == "é 😀\ufffd\n"
    stream = await client.spawn(host("slowbytes"))
    outcome = await stream.finished()
    assert outcome.text("stdout") == "é 😀\ufffd\n"
    assert all("\ufffd" not in text for _, text in outcome.chunks[:-1])


async def test_stream_delivers_output_then_exit(client: BridgeClient) -> None:
    stream = await client.spawn(host("chunks"))
    outcome = await stream.finished()
    assert outcome.text("stdout") == "a\nbc\nd"
    assert outcome.text("stderr") == "x\ny"
    assert (outcome.code, outcome.signal, outcome.error) == (0, None, None)


async def test_stream_exit_code(client: BridgeClient) -> None:
    outcome = await (await client.spawn(host("fail"))).finished()
    assert outcome.code == 3


async def test_kill_ends_the_process(client: BridgeClient) -> None:
    tag = new_tag()
    stream = await client.spawn(tagged("ticker", tag=tag))
    assert (await asyncio.wait_for(stream.output.get(), 5)) == ("stdout", "tick 0\n")
    assert pids_running(tag)
    await stream.kill()
    outcome = await stream.finished()
    assert outcome.signal == "SIGTERM" and outcome.code == 143
    assert await wait_gone(tag) == []


async def test_kill_reaches_the_whole_group_after_the_grace(
    client: BridgeClient, host_binaries: Path
) -> None:
    # "forever" ignores SIGTERM and leaves a child: both must be gone after the grace period.
    stream = await client.spawn(host("forever"))
    _, text = await asyncio.wait_for(stream.output.get(), 5)
    child = int(text.split()[1])
    await stream.kill()
    outcome = await stream.finished()
    assert outcome.signal == "SIGKILL"
    with pytest.raises(ProcessLookupError):
        for _ in range(100):
            os.kill(child, 0)
            await asyncio.sleep(0.05)


async def test_kill_twice_and_unknown_stream(client: BridgeClient) -> None:
    stream = await client.spawn(host("ticker"))
    await stream.kill()
    await stream.finished()
    with pytest.raises(RpcFailure) as caught:
        await stream.kill()
    assert caught.value.code == -32006
    with pytest.raises(RpcFailure) as caught:
        await client.call("exec.kill", {"stream": "no-such"})
    assert caught.value.code == -32006 and "no-such" in caught.value.message


async def test_closing_the_connection_kills_every_stream(running: RunningBridge) -> None:
    tag = new_tag()
    async with BridgeClient.connect(running.ws_url) as connected:
        streams = [await connected.spawn(tagged("ticker", tag=tag)) for _ in range(3)]
        for stream in streams:
            await asyncio.wait_for(stream.output.get(), 5)
        # One process a stream: the ticker's own children (its sleep, or a fork of the shell
        # caught before it execs sleep) have a tagged parent and are not counted.
        running_now = pids_running(tag)
        tagged_pids = {p.pid for p in running_now}
        assert len([p for p in running_now if p.ppid not in tagged_pids]) == 3
    assert await wait_gone(tag) == []


async def test_blocking_exec_is_killed_when_the_connection_closes(running: RunningBridge) -> None:
    tag = new_tag()
    async with BridgeClient.connect(running.ws_url) as connected:
        call = asyncio.create_task(connected.call("exec.run", tagged("ticker", tag=tag)))
        for _ in range(100):
            if pids_running(tag):
                break
            await asyncio.sleep(0.05)
        assert pids_running(tag)
    call.cancel()
    assert await wait_gone(tag) == []


async def test_sigterm_to_the_daemon_ends_its_processes(running: RunningBridge) -> None:
    tag = new_tag()
    async with BridgeClient.connect(running.ws_url) as connected:
        stream = await connected.spawn(tagged("ticker", tag=tag))
        await asyncio.wait_for(stream.output.get(), 5)
        running.process.send_signal(signal.SIGTERM)
        assert await asyncio.to_thread(running.process.wait, 15) == 0
    assert await wait_gone(tag) == []


async def test_many_streams_interleave(client: BridgeClient) -> None:
    streams = [await client.spawn(host("greet", str(i))) for i in range(20)]
    outcomes = await asyncio.gather(*(stream.finished() for stream in streams))
    assert [outcome.text("stdout") for outcome in outcomes] == [f"hello {i}\n" for i in range(20)]


async def test_no_binaries_folder_configured(bridge: Callable[..., RunningBridge]) -> None:
    async with BridgeClient.connect(bridge().ws_url) as connected:
        with pytest.raises(RpcFailure) as caught:
            await connected.call("exec.run", host("greet"))
    assert caught.value.code == -32007 and "--host-binaries" in caught.value.message


@pytest.mark.parametrize(
    "env",
    [
        {"BASH_ENV": "$(touch {pwned})"},
        {"bash_env": "$(touch {pwned})"},
        {"ENV": "$(touch {pwned})"},
        {"BASH_FUNC_echo%%": "() {{ touch {pwned}; }}"},
        {"echo": "() {{ touch {pwned}; }}"},
        {"SHELLOPTS": "xtrace", "PS4": "$(touch {pwned})"},
        {"LD_PRELOAD": "{pwned}.so"},
        {"Ld_Audit": "{pwned}.so"},
        {"GCONV_PATH": "{pwned}"},
        {"PATH": "{pwned}"},
        {"PYTHONSTARTUP": "{pwned}"},
        {"NODE_OPTIONS": "--require {pwned}"},
        {"A=B": "c"},
        {"DDB_VAR": "nul\x00byte"},
    ],
)
@pytest.mark.parametrize("target", ["host", "docker"])
async def test_env_that_runs_other_code_is_refused(
    client: BridgeClient, host_binaries: Path, tmp_path: Path, env: dict[str, str], target: str
) -> None:
    """Refused with the variable named, before anything runs: the bash script would have run
    ``touch`` through any of these (the docker CLI is a host process as well)."""
    pwned = tmp_path / "pwned"
    write_script(host_binaries, "bashy", "exec bash -c 'echo hello; ls >/dev/null'\n")
    params = {"target": target, "cmd": "bashy" if target == "host" else "version"}
    params["env"] = {name: value.format(pwned=pwned) for name, value in env.items()}
    with pytest.raises(RpcFailure) as caught:
        await client.call("exec.run", params)
    assert caught.value.code == -32602
    assert next(iter(env)) in caught.value.message
    assert not pwned.exists()


async def test_ordinary_env_still_reaches_the_binary(client: BridgeClient) -> None:
    env = {"DDB_VAR": "not () at the start", "TMPDIR": "/tmp", "LANG": "C.UTF-8", "GIT_DIR": "/x"}
    result = await client.call("exec.run", host("where", env=env))
    assert result["stdout"].splitlines()[1] == "DDB_VAR=not () at the start"


async def test_a_folder_swapped_for_a_symlink_never_runs_a_file_outside(
    client: BridgeClient, host_binaries: Path, tmp_path: Path
) -> None:
    """A thread flips ``sub`` between a real folder and a symlink to an outside folder holding
    a same-named script while calls run: each call runs the inside script or is refused."""
    evidence = tmp_path / "evil-ran"
    write_script(host_binaries, "sub/tool", "echo good\n")
    write_script(tmp_path / "outside", "tool", f"touch {evidence}; echo evil\n")
    sub, parked = host_binaries / "sub", host_binaries / "sub.parked"
    stop = threading.Event()
    flips = 0

    def flip() -> None:
        nonlocal flips
        while not stop.is_set():
            sub.rename(parked)
            sub.symlink_to(tmp_path / "outside")
            time.sleep(0.0005)
            sub.unlink()
            parked.rename(sub)
            time.sleep(0.0005)
            flips += 1

    async def call() -> str:
        try:
            return str((await client.call("exec.run", host("sub/tool")))["stdout"])
        except RpcFailure as failure:
            return "refused" if failure.code == -32002 else failure.message

    flipper = threading.Thread(target=flip)
    flipper.start()
    try:
        outcomes = [
            outcome for _ in range(50) for outcome in await asyncio.gather(*(call() for _ in range(8)))
        ]
    finally:
        stop.set()
        flipper.join()
    good = "good\n"
    print(f"{flips} flips, {outcomes.count(good)} good, {outcomes.count('refused')} refused")
    assert set(outcomes) <= {good, "refused"}
    assert good in outcomes and "refused" in outcomes
    assert not evidence.exists()


def escaper(host_binaries: Path) -> None:
    """A binary that leaves its process group twice (``setsid``, and a double fork that
    ``setsid``s too), leaves an orphan that ends by itself, and ticks on."""
    write_script(
        host_binaries,
        "escaper",
        "setsid sleep 1000 >/dev/null 2>&1 &\n"
        "(setsid sh -c 'sleep 1001 & sleep 1002' >/dev/null 2>&1 &)\n"
        "(sleep 0.1 &)\n"
        "echo started; while :; do sleep 0.05; done\n",
    )


async def wait_escaped(tag: str) -> list[HostProcess]:
    """The escaper's processes once all three long sleeps run."""
    for _ in range(100):
        found = pids_running(tag)
        if {"sleep 1000", "sleep 1001", "sleep 1002"} <= {p.command for p in found}:
            return found
        await asyncio.sleep(0.05)
    raise AssertionError(f"the escaper did not start its children: {found}")


async def no_zombies_of(pid: int) -> list[HostProcess]:
    """The daemon's zombie children, once the reaper had its time (two of its periods)."""
    for _ in range(100):
        zombies = [p for p in host_processes(zombies=True) if p.ppid == pid and p.state == "Z"]
        if not zombies:
            return []
        await asyncio.sleep(0.05)
    return zombies


@pytest.mark.parametrize("how", ["kill", "close", "drop"])
async def test_children_that_left_the_group_end_with_the_stream(
    running: RunningBridge, host_binaries: Path, how: str
) -> None:
    escaper(host_binaries)
    tag = new_tag()
    async with BridgeClient.connect(running.ws_url) as connected:
        stream = await connected.spawn(tagged("escaper", tag=tag))
        await asyncio.wait_for(stream.output.get(), 5)
        escaped = await wait_escaped(tag)
        # The setsid children are out of the daemon's process group: killpg alone missed them.
        assert any(os.getpgid(p.pid) == p.pid for p in escaped if p.command == "sleep 1000")
        if how == "kill":
            await stream.kill()
            assert (await stream.finished()).signal == "SIGTERM"
            assert await wait_gone(tag) == []
        elif how == "drop":  # the socket goes away without a closing handshake
            connected._ws.transport.abort()
    assert await wait_gone(tag) == []
    assert still_running_after(escaped) == []
    assert await no_zombies_of(running.process.pid) == []


async def test_a_blocking_exec_cancelled_ends_its_escaped_children(
    running: RunningBridge, host_binaries: Path
) -> None:
    escaper(host_binaries)
    tag = new_tag()
    async with BridgeClient.connect(running.ws_url) as connected:
        call = asyncio.create_task(connected.call("exec.run", tagged("escaper", tag=tag)))
        escaped = await wait_escaped(tag)
    call.cancel()
    assert await wait_gone(tag) == []
    assert still_running_after(escaped) == []
    assert await no_zombies_of(running.process.pid) == []


async def test_a_stream_kept_open_by_an_escaped_child_ends_it(
    running: RunningBridge, host_binaries: Path
) -> None:
    """The binary is gone, its setsid child still writes to the stream: closing the stream
    ends the child, with no process group left to signal."""
    write_script(host_binaries, "leaver", "setsid sh -c 'while :; do echo tick; sleep 0.05; done' &\n")
    tag = new_tag()
    async with BridgeClient.connect(running.ws_url) as connected:
        stream = await connected.spawn(tagged("leaver", tag=tag))
        await asyncio.wait_for(stream.output.get(), 5)
        shells = [p for p in pids_running(tag) if p.command.startswith("sh -c")]
        # The loop's fork for its next sleep has its command line until it runs sleep: the loop
        # is the shell whose parent is none of them.
        (child,) = [p for p in shells if p.ppid not in {shell.pid for shell in shells}]
        await stream.kill()
        await stream.finished()
    assert await wait_gone(tag) == []
    assert still_running_after([child]) == []
    assert await no_zombies_of(running.process.pid) == []
