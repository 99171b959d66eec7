"""A real Docker engine for the integration tests, and test images made without a registry.

``DOCKER_HOST``'s engine is used when it answers. Otherwise a private ``dockerd`` runs as root
in a short folder under /tmp (unix socket paths must stay under 108 bytes), with the vfs storage
driver and no networking (no iptables, no bridge), so it starts in about a second and touches
nothing of the machine's own Docker. Images come from no registry: a root filesystem holding
busybox-static and a link per applet is ``docker import``ed.
"""

from __future__ import annotations

import contextlib
import io
import os
import secrets
import shutil
import signal
import socket
import struct
import subprocess
import tarfile
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")

IMAGE = "ddbridge-test/busybox"
LABEL = "ddbridge.test"


class EngineMissing(Exception):
    """No engine can be had on this machine: the reason says what to install."""


def _ping(socket_path: Path) -> bool:
    """True when an engine answers ``GET /_ping`` on the unix socket."""
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
            probe.settimeout(2)
            probe.connect(str(socket_path))
            probe.sendall(b"GET /_ping HTTP/1.0\r\nHost: docker\r\n\r\n")
            return probe.recv(64).startswith(b"HTTP/1.0 200")
    except OSError:
        return False


def _reachable(host: str) -> bool:
    if host.startswith("unix://"):
        return _ping(Path(host.removeprefix("unix://")))
    result = subprocess.run(
        ["docker", "version"], env={**os.environ, "DOCKER_HOST": host}, capture_output=True, timeout=20
    )
    return result.returncode == 0


class PrivateDockerd:
    """A dockerd of our own in ``root``; ``stop`` and ``start`` again keep its data.

    ``prefix`` runs it through another command (``nsenter`` into a namespace: the ssh tests'
    second machine), ``hosts`` are more addresses it listens on besides ``root/d.sock``,
    ``flags`` more of its flags (``--tlsverify`` and its certificates: the TLS engine).
    """

    def __init__(
        self,
        root: Path,
        *,
        prefix: Sequence[str] = (),
        hosts: Sequence[str] = (),
        flags: Sequence[str] = (),
    ) -> None:
        self.root = root
        self.socket = root / "d.sock"
        self.host = f"unix://{self.socket}"
        self.log_path = root / "dockerd.log"
        self._prefix = list(prefix)
        self._hosts = list(hosts)
        self._flags = list(flags)
        self._process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 30) -> None:
        binary = shutil.which("dockerd")
        if binary is None:
            raise EngineMissing("no dockerd on PATH (install Debian's docker.io)")
        if os.geteuid() != 0:
            raise EngineMissing("a private dockerd needs root; or set DOCKER_HOST to a running engine")
        with self.log_path.open("ab") as log:
            self._process = subprocess.Popen(
                [
                    *self._prefix,
                    binary,
                    f"--host={self.host}",
                    *(f"--host={host}" for host in self._hosts),
                    f"--data-root={self.root / 'data'}",
                    f"--exec-root={self.root / 'exec'}",
                    f"--pidfile={self.root / 'dockerd.pid'}",
                    "--storage-driver=vfs",
                    "--iptables=false",
                    "--ip6tables=false",
                    "--bridge=none",
                    # Containers outlive a dockerd restart (the outage test restarts it).
                    "--live-restore",
                    "--log-level=warn",
                    *self._flags,
                ],
                stdout=log,
                stderr=log,
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        while not _ping(self.socket):
            if self._process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                tail = self.log_path.read_text(errors="replace")[-3000:]
                raise RuntimeError(f"dockerd did not come up within {timeout} s; its log:\n{tail}")
            time.sleep(0.05)

    def stop(self, timeout: float = 30) -> None:
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()

    def remove(self) -> None:
        """Unmount what dockerd may have left mounted under the folder, then delete it."""
        with open("/proc/self/mounts") as mounts:
            points = [line.split()[1] for line in mounts if line.split()[1].startswith(f"{self.root}/")]
        for point in sorted(points, key=len, reverse=True):
            subprocess.run(["umount", "-l", point], check=False, capture_output=True)
        shutil.rmtree(self.root, ignore_errors=True)


def _is_static(binary: Path) -> bool:
    """An ELF executable with no PT_INTERP program header needs no libraries in the image."""
    data = binary.read_bytes()
    if data[:4] != b"\x7fELF" or data[4] != 2:  # 64-bit ELF only (the machines we run on)
        return False
    phoff = struct.unpack_from("<Q", data, 0x20)[0]
    phentsize, phnum = struct.unpack_from("<HH", data, 0x36)
    pt_interp = 3
    return all(struct.unpack_from("<I", data, phoff + i * phentsize)[0] != pt_interp for i in range(phnum))


def busybox_rootfs() -> bytes:
    """A tar of a root filesystem: /bin/busybox, a link per applet, /tmp and /work."""
    found = shutil.which("busybox")
    if found is None:
        raise EngineMissing("no busybox on PATH (install Debian's busybox-static)")
    binary = Path(found).resolve()
    if not _is_static(binary):
        raise EngineMissing(f"{binary} is not statically linked (install Debian's busybox-static)")
    applets = subprocess.run([binary, "--list"], capture_output=True, text=True, check=True).stdout.split()
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for folder, mode in (("bin", 0o755), ("tmp", 0o1777), ("work", 0o755), ("work/sub", 0o755)):
            info = tarfile.TarInfo(folder)
            info.type, info.mode = tarfile.DIRTYPE, mode
            tar.addfile(info)
        tar.add(binary, "bin/busybox")
        for applet in applets:
            if applet != "busybox":
                link = tarfile.TarInfo(f"bin/{applet}")
                link.type, link.linkname = tarfile.SYMTYPE, "busybox"
                tar.addfile(link)
    return buffer.getvalue()


@dataclass
class EngineUnderTest:
    """The engine the tests use, its test image and its long-running "vm" container."""

    host: str
    image: str
    vm: str
    private: PrivateDockerd | None
    token: str

    def docker(
        self, *args: str, input: bytes | None = None, check: bool = True, timeout: float = 60
    ) -> subprocess.CompletedProcess[str]:
        """The docker CLI against this engine."""
        result = subprocess.run(
            ["docker", *args],
            input=input,
            env={**os.environ, "DOCKER_HOST": self.host},
            capture_output=True,
            timeout=timeout,
        )
        completed = subprocess.CompletedProcess(
            result.args, result.returncode, result.stdout.decode(errors="replace"), result.stderr.decode()
        )
        if check and result.returncode != 0:
            raise RuntimeError(f"docker {' '.join(args)} failed ({result.returncode}): {completed.stderr}")
        return completed

    def run_container(self, name: str, *command: str, detach: bool = True) -> str:
        """A container of the test image, labelled for clean-up; its full name is returned."""
        full = f"ddbridge-test-{name}-{self.token}"
        self.docker(
            "run",
            *(["-d"] if detach else []),
            "--init",  # reaps what the tests' processes leave behind, so `ps` shows no zombies
            "--network=none",
            f"--label={LABEL}={self.token}",
            f"--name={full}",
            self.image,
            *command,
        )
        return full

    def processes(self, container: str) -> list[str]:
        """The command lines running in the container, read with its own ``ps``."""
        listing = self.docker("exec", container, "ps", "-o", "args").stdout.splitlines()[1:]
        return [line.strip() for line in listing if line.strip() != "ps -o args"]

    @contextlib.contextmanager
    def outage(self) -> Iterator[None]:
        """The engine stopped for the block's duration, then started again; the test is skipped
        when the engine is not this suite's own (``DOCKER_HOST``)."""
        if self.private is None:
            import pytest  # only under pytest (the bench uses this module too)

            pytest.skip("the engine at DOCKER_HOST is not this test's to stop")
        self.private.stop()
        try:
            yield
        finally:
            self.private.start()
            if self.docker("inspect", "-f", "{{.State.Running}}", self.vm).stdout.strip() != "true":
                self.docker("start", self.vm)

    def clean(self) -> None:
        names = self.docker("ps", "-aq", "--filter", f"label={LABEL}={self.token}").stdout.split()
        if names:
            self.docker("rm", "-f", *names, check=False)
        self.docker("rmi", "-f", self.image, check=False)


@contextlib.contextmanager
def running_dockerd(dockerd: PrivateDockerd) -> Iterator[PrivateDockerd]:
    """``dockerd`` started, then stopped and its folder removed (also when it fails to start)."""
    try:
        dockerd.start()
        yield dockerd
    finally:
        dockerd.stop()
        dockerd.remove()


@contextlib.contextmanager
def prepared_engine(host: str, private: PrivateDockerd | None) -> Iterator[EngineUnderTest]:
    """The engine at ``host`` with the test image and a running "vm" container, removed after."""
    rootfs = busybox_rootfs()
    token = secrets.token_hex(4)
    engine = EngineUnderTest(host, f"{IMAGE}:{token}", "", private, token)
    try:
        engine.docker("import", "-", engine.image, input=rootfs)
        engine.vm = engine.run_container("vm", "sleep", "2147483647")
        yield engine
    finally:
        engine.clean()


@contextlib.contextmanager
def provide_engine() -> Iterator[EngineUnderTest]:
    """An engine with the test image and a running "vm" container; all of it removed after."""
    external = os.environ.get("DOCKER_HOST")
    if external and _reachable(external):
        with prepared_engine(external, None) as engine:
            yield engine
        return
    dockerd = PrivateDockerd(Path(tempfile.mkdtemp(prefix="ddbd-", dir="/tmp")))
    with running_dockerd(dockerd), prepared_engine(dockerd.host, dockerd) as engine:
        yield engine


def or_skip(provided: contextlib.AbstractContextManager[T], purpose: str, what: str) -> Iterator[T]:
    """The body of a fixture yielding what ``provided`` gives (``what`` names it in messages);
    when the machine lacks a part of it (``EngineMissing``) the tests skip, saying what to
    install, but under CI they fail, so a machine that lost its packages cannot pass by skipping.
    """
    import pytest

    try:
        with provided as value:
            yield value
    except EngineMissing as exc:
        if os.environ.get("CI"):
            pytest.fail(f"{purpose} need {what}: {exc}", pytrace=False)
        pytest.skip(f"no {what} for {purpose}: {exc}")


def engine_or_skip(purpose: str) -> Iterator[EngineUnderTest]:
    """The body of a session ``engine`` fixture: ``yield from engine_or_skip("the browser tests")``
    (``provide_engine``'s engine, or a skip as ``or_skip`` says)."""
    yield from or_skip(provide_engine(), purpose, "a Docker engine")
