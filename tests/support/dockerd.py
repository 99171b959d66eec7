"""A real engine for the integration tests, Docker or Podman, and test images made without a registry.

Docker: ``DOCKER_HOST``'s engine is used when it answers. Otherwise a private ``dockerd`` runs
as root in a short folder under /tmp (unix socket paths must stay under 108 bytes), with the vfs
storage driver and no networking (no iptables, no bridge), so it starts in about a second and
touches nothing of the machine's own Docker.

Podman: a private ``podman system service`` on its Docker-compatible socket, as root, its
storage, state and networks in its own folder (vfs, ``--root``/``--runroot``/``--tmpdir``, runc's
state) and a ``containers.conf`` of its own (``CONTAINERS_CONF``). It runs in a mount and network
namespace of its own: what rootful Podman keeps in fixed places (``/run/containers/networks``,
``/run/netns``, ``/dev/shm/libpod_lock``) lands on tmpfs mounts there, and the bridges and
iptables rules netavark makes for a compose network stay in that namespace, so nothing of it is
left on the machine when it ends.

Images come from no registry: a root filesystem holding busybox-static and a link per applet is
``docker import``ed, through the same docker CLI for both engines.
"""

from __future__ import annotations

import abc
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
from typing import Literal, TypeVar

T = TypeVar("T")

IMAGE = "ddbridge-test/busybox"
LABEL = "ddbridge.test"

EngineKind = Literal["docker", "podman"]
# What Podman needs in these sandboxes: its default ulimits (the hard limits it asks for are
# above what a sandbox grants), cgroupfs and file events (no systemd, no journald), runc (what
# docker.io brings; crun is not tried here). Exec sessions' conmon waits exit_command_delay before
# the session is cleaned up (300 s by default): a few seconds are enough for ddbridge to read the
# exit code, and hundreds of execs do not leave hundreds of conmons waiting.
PODMAN_CONF = """\
[containers]
default_ulimits = ["nofile=1024:1024", "nproc=4096:4096"]

[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
runtime = "runc"
exit_command_delay = 15
"""
# Run as ``sh -c SCRIPT sh PODMAN ARGS...`` in new mount and network namespaces: rootful Podman's
# fixed paths under /run and /dev/shm become the namespace's own.
_PRIVATE_RUN = 'mount -t tmpfs tmpfs /run && mount -t tmpfs tmpfs /dev/shm && exec "$@"'


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


def in_namespaces(script: str, *args: str, network: bool = False) -> list[str]:
    """``sh -c SCRIPT sh ARGS...`` in a mount namespace of its own (mounts made there stay
    there), and a network namespace too with ``network``."""
    unshare = ["unshare", "--mount", *(["--net"] if network else []), "--propagation", "private", "--"]
    return [*unshare, "sh", "-c", script, "sh", *args]


class PrivateEngine(abc.ABC):
    """An engine daemon of our own in ``root``, started and stopped by the tests."""

    program: str  # the binary on PATH
    package: str  # the Debian package that has it
    socket_name: str

    def __init__(self, root: Path) -> None:
        self.root = root
        self.socket = root / self.socket_name
        self.host = f"unix://{self.socket}"
        self.log_path = root / f"{self.program}.log"
        self._process: subprocess.Popen[bytes] | None = None

    @abc.abstractmethod
    def command(self, binary: str) -> list[str]:
        """The daemon's command line."""

    def environment(self) -> dict[str, str]:
        return dict(os.environ)

    def start(self, timeout: float = 30) -> None:
        binary = shutil.which(self.program)
        if binary is None:
            raise EngineMissing(f"no {self.program} on PATH (install Debian's {self.package})")
        if os.geteuid() != 0:
            raise EngineMissing(
                f"a private {self.program} needs root; or set DOCKER_HOST to a running engine"
            )
        with self.log_path.open("ab") as log:
            self._process = subprocess.Popen(
                self.command(binary), env=self.environment(), stdout=log, stderr=log, start_new_session=True
            )
        deadline = time.monotonic() + timeout
        while not _ping(self.socket):
            if self._process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                tail = self.log_path.read_text(errors="replace")[-3000:]
                raise RuntimeError(f"{self.program} did not come up within {timeout} s; its log:\n{tail}")
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
        """Unmount what the daemon may have left mounted under the folder, then delete it."""
        with open("/proc/self/mounts") as mounts:
            points = [line.split()[1] for line in mounts if line.split()[1].startswith(f"{self.root}/")]
        for point in sorted(points, key=len, reverse=True):
            subprocess.run(["umount", "-l", point], check=False, capture_output=True)
        shutil.rmtree(self.root, ignore_errors=True)


class PrivateDockerd(PrivateEngine):
    """A dockerd of our own; ``stop`` and ``start`` again keep its data and its containers.

    ``prefix`` runs it through another command (``nsenter`` into a namespace: the ssh tests'
    second machine), ``hosts`` are more addresses it listens on besides ``root/d.sock``,
    ``flags`` more of its flags (``--tlsverify`` and its certificates: the TLS engine).
    """

    program, package, socket_name = "dockerd", "docker.io", "d.sock"

    def __init__(
        self,
        root: Path,
        *,
        prefix: Sequence[str] = (),
        hosts: Sequence[str] = (),
        flags: Sequence[str] = (),
    ) -> None:
        super().__init__(root)
        self._prefix = list(prefix)
        self._hosts = list(hosts)
        self._flags = list(flags)

    def command(self, binary: str) -> list[str]:
        return [
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
        ]


class PrivatePodman(PrivateEngine):
    """``podman system service`` of our own (see the module's docstring); ``stop`` removes every
    container it made, since they do not outlive it as dockerd's do."""

    program, package, socket_name = "podman", "podman", "p.sock"

    def command(self, binary: str) -> list[str]:
        (self.root / "tmp").mkdir(exist_ok=True)
        (self.root / "containers.conf").write_text(PODMAN_CONF)
        service = [binary, *self._storage(), "system", "service", "--time=0", self.host]
        return in_namespaces(_PRIVATE_RUN, *service, network=True)

    def _storage(self) -> list[str]:
        return [
            f"--root={self.root / 'storage'}",
            f"--runroot={self.root / 'run'}",
            f"--tmpdir={self.root / 'libpod'}",
            f"--network-config-dir={self.root / 'networks'}",
            f"--runtime-flag=root={self.root / 'runc'}",
            "--storage-driver=vfs",
            "--log-level=warn",
        ]

    def environment(self) -> dict[str, str]:
        # TMPDIR: where Podman unpacks what it imports and builds (default /var/tmp).
        return {
            **os.environ,
            "CONTAINERS_CONF": str(self.root / "containers.conf"),
            "TMPDIR": str(self.root / "tmp"),
        }

    def stop(self, timeout: float = 30) -> None:
        if self._process is not None and self._process.poll() is None:
            subprocess.run(
                ["podman", "--remote", f"--url={self.host}", "rm", "--all", "--force", "--time=0"],
                capture_output=True,
                timeout=60,
                check=False,
            )
        super().stop(timeout)
        self._end_leftovers()

    def _end_leftovers(self) -> None:
        """The conmon processes of exec sessions still waiting out ``exit_command_delay``: ours,
        by the storage folder on their command line."""
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                cmdline = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            if str(self.root / "storage").encode() in cmdline:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(int(entry.name), signal.SIGKILL)


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
    private: PrivateEngine | None
    token: str
    kind: EngineKind = "docker"

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
        when the engine is not this suite's own (``DOCKER_HOST``), and is not Docker's."""
        if not isinstance(self.private, PrivateDockerd):
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


PrivateT = TypeVar("PrivateT", bound=PrivateEngine)


@contextlib.contextmanager
def running_engine(private: PrivateT) -> Iterator[PrivateT]:
    """``private`` started, then stopped and its folder removed (also when it fails to start)."""
    try:
        private.start()
        yield private
    finally:
        private.stop()
        private.remove()


@contextlib.contextmanager
def prepared_engine(
    host: str, private: PrivateEngine | None, kind: EngineKind = "docker"
) -> Iterator[EngineUnderTest]:
    """The engine at ``host`` with the test image and a running "vm" container, removed after."""
    rootfs = busybox_rootfs()
    token = secrets.token_hex(4)
    engine = EngineUnderTest(host, f"{IMAGE}:{token}", "", private, token, kind)
    try:
        engine.docker("import", "-", engine.image, input=rootfs)
        engine.vm = engine.run_container("vm", "sleep", "2147483647")
        yield engine
    finally:
        engine.clean()


@contextlib.contextmanager
def provide_engine(kind: EngineKind = "docker") -> Iterator[EngineUnderTest]:
    """An engine with the test image and a running "vm" container; all of it removed after.

    Docker: ``DOCKER_HOST``'s engine when it answers, else a private dockerd. Podman: always a
    private service."""
    external = os.environ.get("DOCKER_HOST") if kind == "docker" else None
    if external and _reachable(external):
        with prepared_engine(external, None) as engine:
            yield engine
        return
    engine_class = PrivatePodman if kind == "podman" else PrivateDockerd
    private = engine_class(Path(tempfile.mkdtemp(prefix=f"ddb{kind[0]}-", dir="/tmp")))
    with running_engine(private), prepared_engine(private.host, private, kind) as engine:
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


def engine_or_skip(purpose: str, kind: EngineKind = "docker") -> Iterator[EngineUnderTest]:
    """The body of a session ``engine`` fixture: ``yield from engine_or_skip("the browser tests")``
    (``provide_engine``'s engine of ``kind``, or a skip as ``or_skip`` says)."""
    yield from or_skip(provide_engine(kind), purpose, f"a {kind.capitalize()} engine")
