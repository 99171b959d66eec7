"""Docker engines over ``ssh://[user@]host[:port][/socket]``, reached with the user's own OpenSSH
(their ~/.ssh/config, agent, keys and ProxyJump as they are; ``[docker] ssh_options`` adds
arguments).

One master connection per engine (``ssh -M -N -S ctl``), a child of the daemon in a folder of
``/tmp/ddbridge-<uid>/``; everything else multiplexes over it (``-S ctl``):

- the Engine API and the docker CLI reach the engine through a forward of its remote unix socket
  to a local one (``-O forward -L local:remote``): aiodocker, ``docker.cli.exec`` and compose all
  get that one ``unix://`` address, so API and CLI calls can never reach different engines;
- remote commands (a run folder made and removed there, the wait for a backend's socket) run as
  argv quoted for the remote shell (``shlex``);
- a backend's socket is forwarded to the same path here, so the service proxy connects to
  ``guest-services/<socket>`` as it would on this machine.

The remote engine socket is the URL's path when it has one (Podman's
``ssh://u@h/run/podman/podman.sock``), else the one the remote docker CLI uses (``docker context
inspect``, as ``docker system dial-stdio`` would find it), else ``/var/run/docker.sock``.

When the master exits, a watcher says so, connects again with back-off, re-adds every forward
and says so again; calls made meanwhile find the local socket dead and get ``DockerUnavailable``
naming the ssh address. Messages name the ssh address, never the local socket.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import logging
import secrets
import shlex
import shutil
import signal
import sys
import tempfile
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar
from urllib.parse import unquote, urlsplit

from bridge.engine_machine import local_socket_state, user_folder
from bridge.errors import DockerUnavailable

log = logging.getLogger("ddbridge.ssh")

SCHEME = "ssh://"
DEFAULT_SOCKET = "/var/run/docker.sock"
# Seconds ssh gets to connect and log in; the master's keep-alive: a connection that lost this
# many answers in a row (interval x count seconds) is given up, and then made again.
CONNECT_TIMEOUT = 10
ALIVE_INTERVAL = 5
ALIVE_COUNT = 3
# Back-off between reconnection attempts, doubling from the first to the last.
RETRY_FIRST = 0.25
RETRY_LAST = 5.0
# Seconds a command over the master (mkdir, test -S, a forward) may take; the engine's ping.
COMMAND_TIMEOUT = 30
PING_TIMEOUT = 10
# ssh reports a forward the server refused on its stderr just before it closes the connection.
_REFUSAL_WAIT = 0.5
_PR_SET_PDEATHSIG = 1


def _end_with_parent() -> Callable[[], None] | None:
    """On Linux, a pre-exec hook that has the kernel SIGTERM the master when the daemon dies
    (even of SIGKILL), so that a killed daemon leaves no ssh connection behind."""
    if not sys.platform.startswith("linux"):
        return None
    prctl = ctypes.CDLL(None, use_errno=True).prctl

    def hook() -> None:
        prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)

    return hook


_PRE_EXEC = _end_with_parent()


@dataclass(frozen=True)
class SshTarget:
    """``ssh://[user@]host[:port][/socket]``, taken apart."""

    host: str
    user: str | None = None
    port: int | None = None
    socket: str | None = None

    @classmethod
    def parse(cls, url: str) -> SshTarget:
        """The parts of ``url``; ``ValueError`` saying what is wrong with it."""
        shape = "ssh://[user@]host[:port][/path/to/engine.sock]"
        parts = urlsplit(url)
        try:
            port = parts.port
        except ValueError:
            raise ValueError(f"{url!r}: the port is not a number from 0 to 65535 ({shape})") from None
        if parts.scheme != "ssh" or not parts.hostname:
            raise ValueError(f"{url!r} is not an ssh address like {shape}")
        if parts.password is not None:
            raise ValueError(f"{url!r}: a password in the address is not supported; use a key or an agent")
        if parts.query or parts.fragment:
            raise ValueError(f"{url!r}: an ssh address has no ?query or #fragment ({shape})")
        path = unquote(parts.path)
        if ":" in path:
            raise ValueError(f"{url!r}: ssh cannot forward a socket whose path holds ':'")
        return cls(
            parts.hostname,
            unquote(parts.username) if parts.username else None,
            port,
            path.rstrip("/") or None,
        )

    @property
    def display(self) -> str:
        """``ssh://user@host:port``, what messages name."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        user = f"{self.user}@" if self.user else ""
        port = f":{self.port}" if self.port else ""
        return f"{SCHEME}{user}{host}{port}"

    def destination(self) -> list[str]:
        """The end of an ssh command line: port and user as options, then the host."""
        port = ["-p", str(self.port)] if self.port else []
        user = ["-l", self.user] if self.user else []
        return [*port, *user, "--", self.host]


@dataclass(frozen=True)
class _Done:
    code: int
    stdout: str
    stderr: str

    @property
    def why(self) -> str:
        lines = self.stderr.strip().splitlines()
        return lines[-1] if lines else f"exit code {self.code}"


class SshMachine:
    """The engine's machine behind an ssh master connection (``bridge.engine_machine``), shared
    by every engine client of this process that names the same address (``shared``); the last
    one to ``aclose`` it ends the connection."""

    _shared: ClassVar[dict[tuple[str, tuple[str, ...]], SshMachine]] = {}

    def __init__(self, url: str, options: Sequence[str]) -> None:
        self.url = url
        self.target = SshTarget.parse(url)
        self._key = (url, tuple(options))
        self._options = list(options)
        self._users = 0
        self._lock = asyncio.Lock()
        self._reset()

    def _reset(self) -> None:
        """Not connected, nothing forwarded, nothing made there."""
        self._folder: Path | None = None
        self._master: asyncio.subprocess.Process | None = None
        self._reader: asyncio.Task[None] | None = None
        self._watcher: asyncio.Task[None] | None = None
        self._last_line = ""
        self._recent: deque[str] = deque(maxlen=20)  # stderr lines no failure was explained by yet
        self._remote_socket: str | None = None
        self._ready = False
        self._forwards: dict[Path, str] = {}  # local path → remote path, re-added on reconnection
        self._mirrored: set[Path] = set()
        self._shared_folders: set[Path] = set()  # folders the engine's machine shares with this one
        self._down: str | None = None
        self._closing = False

    @classmethod
    def shared(cls, url: str, options: Sequence[str]) -> SshMachine:
        key = (url, tuple(options))
        machine = cls._shared.get(key)
        if machine is None:
            machine = cls._shared[key] = cls(url, options)
        machine._users += 1
        return machine

    @property
    def hint(self) -> str:
        return (
            f"check that ssh logs in to {self.target.display} without a prompt (keys, agent, "
            "[docker] ssh_options) and that the engine runs there"
        )

    # The engine

    async def connect(self) -> str:
        """Once the engine has answered, the address at once: while the watcher reconnects,
        calls fail fast on the dead socket instead of waiting for it."""
        if self._closing:
            raise self._unavailable("ddbridge is stopping")
        if not self._ready:
            async with self._lock:
                if self._watcher is None:
                    await self._start_master()
                    self._watcher = asyncio.create_task(self._watch())
                if self._remote_socket is None:
                    self._remote_socket = self.target.socket or await self._find_socket()
                # Again after a failed try: the master answers an existing forward with success.
                await self._forward(self._engine_forward, self._remote_socket)
                await self._ping()
                self._ready = True
        return f"unix://{self._engine_forward}"

    async def cli_env(self) -> dict[str, str]:
        return {"DOCKER_HOST": await self.connect()}

    async def explain(self, reason: str) -> str:
        down = self._down_reason()
        if down is not None:
            return down
        refusal = await self._refusal()
        if refusal is not None:
            return refusal
        return reason.replace(str(self._engine_forward), f"{self._remote_socket} on {self.target.display}")

    async def engine_socket(self) -> str | None:
        await self.connect()
        return self._remote_socket

    @property
    def _engine_forward(self) -> Path:
        return self._run_folder() / "engine.sock"

    def _run_folder(self) -> Path:
        if self._folder is None:
            try:
                parent = user_folder()
            except PermissionError as exc:
                raise self._unavailable(str(exc)) from exc
            self._folder = Path(tempfile.mkdtemp(prefix="ssh-", dir=parent))
        return self._folder

    async def _find_socket(self) -> str:
        """The socket the remote docker CLI would use, else Docker's default."""
        done = await self._run(["docker", "context", "inspect", "--format", "{{.Endpoints.docker.Host}}"])
        host = done.stdout.strip()
        if done.code == 0 and host.startswith("unix://"):
            return host.removeprefix("unix://")
        if done.code == 0:
            log.warning(
                "the docker CLI on %s uses %s, not a unix socket: using %s (name the socket in the "
                "address: %s/path/to/engine.sock)",
                self.target.display,
                host,
                DEFAULT_SOCKET,
                self.target.display,
            )
        else:
            log.debug(
                "no docker CLI answers on %s (%s): using %s", self.target.display, done.why, DEFAULT_SOCKET
            )
        return DEFAULT_SOCKET

    async def _ping(self) -> None:
        """``GET /_ping`` through the forward: a server that refuses to forward, or no engine at
        the remote socket, shows here (ssh accepts locally and closes once the remote side fails)."""
        status = b""
        with contextlib.suppress(OSError, TimeoutError):
            reader, writer = await asyncio.wait_for(
                asyncio.open_unix_connection(str(self._engine_forward)), PING_TIMEOUT
            )
            try:
                writer.write(b"GET /_ping HTTP/1.0\r\nHost: docker\r\n\r\n")
                status = await asyncio.wait_for(reader.readline(), PING_TIMEOUT)
            finally:
                writer.close()
        if not status.startswith(b"HTTP/"):
            refusal = await self._refusal(wait=_REFUSAL_WAIT)
            raise self._unavailable(
                refusal or f"no answer from {self._remote_socket} there within {PING_TIMEOUT} s"
            )

    async def _refusal(self, wait: float = 0.1) -> str | None:
        """Why the remote side refused a forwarded connection, if ssh just said it did."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait
        while True:
            lines = [line for line in self._recent if "open failed" in line]
            if lines or loop.time() >= deadline:
                break
            await asyncio.sleep(0.02)
        self._recent.clear()
        if not lines:
            return None
        # OpenSSH's server gives one reason for a socket that is not there and for a forward its
        # configuration refuses: the remote side tells them apart.
        there = await self._run(["test", "-S", str(self._remote_socket)])
        if there.code == 0:
            return (
                f"{self._remote_socket} is there, but ssh cannot forward it (ssh: {lines[-1]}): allow "
                "it in the server's sshd_config (AllowStreamLocalForwarding yes), and let the ssh user "
                "open the socket (the docker group)"
            )
        return (
            f"no engine socket at {self._remote_socket} there (ssh: {lines[-1]}): is the engine "
            f"running? else name its socket in the address ({self.target.display}/path/to/engine.sock)"
        )

    # The master connection

    def _ctl(self) -> Path:
        return self._run_folder() / "ctl"

    def _client(self, *args: str, command: str | None = None) -> list[str]:
        """An ssh command line over the master (``args`` its options, then the remote ``command``):
        never a connection of its own, never a prompt."""
        return [
            "ssh",
            "-S",
            str(self._ctl()),
            "-o",
            "ControlMaster=no",
            "-o",
            "BatchMode=yes",
            *self._options,
            *args,
            *self.target.destination(),
            *([command] if command is not None else []),
        ]

    async def _start_master(self) -> None:
        """Connect (the master) and wait until it accepts multiplexed commands."""
        await self._stop_master()
        ctl = self._ctl()
        ctl.unlink(missing_ok=True)
        argv = [
            "ssh",
            "-M",
            "-N",
            "-S",
            str(ctl),
            "-o",
            "ControlPersist=no",
            "-o",
            "BatchMode=yes",
            "-o",
            "ExitOnForwardFailure=yes",
            "-o",
            "StreamLocalBindUnlink=yes",
            *self._options,
            "-o",
            f"ConnectTimeout={CONNECT_TIMEOUT}",
            "-o",
            f"ServerAliveInterval={ALIVE_INTERVAL}",
            "-o",
            f"ServerAliveCountMax={ALIVE_COUNT}",
            *self.target.destination(),
        ]
        try:
            process = await asyncio.create_subprocess_exec(
                *argv,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.PIPE,
                # Not the terminal's process group: Ctrl-C stops the daemon, which still needs
                # the connection to remove the backend.
                start_new_session=True,
                preexec_fn=_PRE_EXEC,
            )
        except OSError as exc:
            raise self._unavailable(
                f"cannot run ssh: {exc.strerror} (install OpenSSH's client: Debian's openssh-client)"
            ) from exc
        self._master = process
        assert process.stderr is not None
        self._reader = asyncio.create_task(self._read_stderr(process.stderr))
        loop = asyncio.get_running_loop()
        deadline = loop.time() + CONNECT_TIMEOUT + 5
        while not ctl.is_socket():
            if process.returncode is not None:
                raise self._unavailable(f"ssh cannot log in: {await self._exit_reason()}")
            if loop.time() > deadline:
                await self._stop_master()
                raise self._unavailable(f"ssh did not log in within {CONNECT_TIMEOUT + 5} s")
            await asyncio.sleep(0.02)
        log.info("connected to %s over ssh (pid %d)", self.target.display, process.pid)

    async def _read_stderr(self, stream: asyncio.StreamReader) -> None:
        async for raw in stream:
            line = raw.decode(errors="replace").strip()
            if line:
                log.debug("ssh %s | %s", self.target.display, line)
                self._last_line = line
                self._recent.append(line)

    async def _exit_reason(self) -> str:
        """The master's last stderr line, once it has exited (its own words: the host and why)."""
        if self._reader is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(self._reader), 1)
        assert self._master is not None
        return self._last_line or f"ssh exited with code {self._master.returncode}"

    def _down_reason(self) -> str | None:
        if self._down is not None:
            return self._down
        if self._master is not None and self._master.returncode is not None:
            return "the ssh connection was lost; reconnecting"
        return None

    async def _watch(self) -> None:
        """Reconnect whenever the master exits, until ``aclose``."""
        while not self._closing:
            assert self._master is not None
            await self._master.wait()
            if self._closing:
                return
            why = await self._exit_reason()
            self._down = f"the ssh connection was lost ({why}); reconnecting"
            log.warning("lost the ssh connection to %s (%s); reconnecting", self.target.display, why)
            await self._reconnect()
            self._down = None
            log.info("reconnected to %s", self.target.display)

    async def _reconnect(self) -> None:
        delay = RETRY_FIRST
        while True:
            async with self._lock:
                try:
                    await self._start_master()
                    for local, remote in list(self._forwards.items()):
                        await self._forward(local, remote)
                    return
                except DockerUnavailable as exc:
                    log.info("%s; trying again in %g s", exc.message, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, RETRY_LAST)

    async def _stop_master(self) -> None:
        process = self._master
        if process is None or process.returncode is not None:
            return
        with contextlib.suppress(OSError, TimeoutError):
            exiting = await self._spawn(self._client("-O", "exit"))
            await asyncio.wait_for(exiting.communicate(), COMMAND_TIMEOUT)
        try:
            await asyncio.wait_for(process.wait(), 5)
        except TimeoutError:
            process.kill()
            await process.wait()

    async def _spawn(self, argv: Sequence[str]) -> asyncio.subprocess.Process:
        return await asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            start_new_session=True,
        )

    async def _over_master(self, *args: str, what: str, command: str | None = None) -> _Done:
        """An ssh command multiplexed over the master."""
        try:
            process = await self._spawn(self._client(*args, command=command))
            stdout, stderr = await asyncio.wait_for(process.communicate(), COMMAND_TIMEOUT)
        except OSError as exc:
            raise self._unavailable(f"cannot {what}: cannot run ssh: {exc.strerror}") from exc
        except TimeoutError as exc:
            process.kill()
            await process.wait()
            raise self._unavailable(f"cannot {what}: no answer within {COMMAND_TIMEOUT} s") from exc
        return _Done(
            process.returncode or 0, stdout.decode(errors="replace"), stderr.decode(errors="replace")
        )

    async def _run(self, argv: Sequence[str]) -> _Done:
        """``argv`` on the engine's machine (its login shell gets it quoted); ``DockerUnavailable``
        while the connection is down."""
        what = f"run {argv[0]} there"
        down = self._down_reason()
        if down is not None:
            raise self._unavailable(f"cannot {what}: {down}")
        return await self._over_master(what=what, command=shlex.join(argv))

    async def _forward(self, local: Path, remote: str) -> None:
        self._forwards[local] = remote
        done = await self._over_master("-O", "forward", "-L", f"{local}:{remote}", what=f"forward {remote}")
        if done.code != 0:
            raise self._unavailable(f"cannot forward {remote}: {done.why}")

    def _unavailable(self, reason: str) -> DockerUnavailable:
        return DockerUnavailable(
            f"cannot reach the Docker engine at {self.target.display}: {reason}", host=self.url
        )

    # The backends' folders and sockets

    def _is_shared(self, path: Path) -> bool:
        return any(path == folder or path.is_relative_to(folder) for folder in self._shared_folders)

    async def mirror(self, folder: Path) -> None:
        """``mkdir`` there; a marker made here first tells whether that machine shares the folder
        (``ssh://localhost``): then a forward to the same path would replace the socket itself."""
        await self.connect()
        marker = folder / f".ddbridge-{secrets.token_hex(8)}"
        marker.touch()
        script = 'umask 077 && mkdir -p "$1" && chmod 777 "$1" && if [ -e "$2" ]; then echo shared; fi'
        try:
            done = await self._run(["sh", "-c", script, "sh", str(folder), str(marker)])
        finally:
            marker.unlink(missing_ok=True)
        if done.code != 0:
            raise self._unavailable(f"cannot make {folder} there: {done.why}")
        self._mirrored.add(folder)
        if done.stdout.strip() == "shared":
            self._shared_folders.add(folder)

    async def socket_state(self, path: Path) -> str | None:
        if self._is_shared(path):
            return await local_socket_state(path)
        done = await self._run(["test", "-S", str(path)])
        return None if done.code == 0 else "no socket yet"

    async def holds(self, path: Path) -> bool:
        if self._is_shared(path):
            return await asyncio.to_thread(path.exists)
        return (await self._run(["test", "-e", str(path)])).code == 0

    async def expose(self, path: Path) -> None:
        if self._is_shared(path):
            return
        async with self._lock:
            if self._down_reason() is None:
                await self._forward(path, str(path))
            else:
                self._forwards[path] = str(path)  # the reconnection adds it

    async def discard(self, folder: Path) -> None:
        """Cancel the forwards into ``folder``; remove it there when ``mirror`` made it (never a
        folder this machine shares: that is the caller's)."""
        async with self._lock:
            for local in [path for path in self._forwards if path.is_relative_to(folder)]:
                remote = self._forwards.pop(local)
                if self._down_reason() is None:
                    await self._over_master(
                        "-O", "cancel", "-L", f"{local}:{remote}", what=f"cancel the forward of {remote}"
                    )
                local.unlink(missing_ok=True)
        made = {path for path in self._mirrored if path.is_relative_to(folder)}
        if not made:
            return
        self._mirrored -= made
        if not any(self._is_shared(path) for path in made):
            done = await self._run(["rm", "-rf", "--", str(folder)])
            if done.code != 0:
                raise self._unavailable(f"cannot remove {folder} there: {done.why}")

    async def aclose(self) -> None:
        """Let go; the last user stops the master and removes its folder. The machine is as new
        then: an engine client used again after ``aclose`` connects again."""
        self._users = max(self._users - 1, 0)
        if self._users:
            return
        if self._shared.get(self._key) is self:
            del self._shared[self._key]
        self._closing = True
        try:
            if self._watcher is not None:
                self._watcher.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self._watcher
            await self._stop_master()
            if self._reader is not None:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._reader, 1)
            if self._folder is not None:
                shutil.rmtree(self._folder, ignore_errors=True)
        finally:
            self._reset()
