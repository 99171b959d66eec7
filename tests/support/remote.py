"""A second machine for the ssh engine tests: its own network namespace and address (a veth pair,
10.218.N.2, this machine being 10.218.N.1), its own ``/tmp`` and ``/run`` (a mount namespace with
tmpfs on both), its own dockerd (tests/support/dockerd.py, listening at ``/var/run/docker.sock``
there, as on a real engine host) and Debian's sshd with a host key of its own and a test key in
authorized_keys, logging in root by key only.

Its own ``/tmp`` is what proves that a run folder the tests see there was made there, over ssh,
and not shared by accident. The files both machines read (keys, configs, the dockerd's folder with
a second socket for the tests' own docker CLI) live in a folder under ``/var/tmp``, which the
namespaces share.

OpenSSH reads ~/.ssh from the passwd home, not ``$HOME``, so the tests cannot hand ddbridge a
config that way: ``env()`` gives ``DDBRIDGE_DOCKER_SSH_OPTIONS=-F,<ssh_config>``, a config with
the test key, the host's known key, and no agent.
"""

from __future__ import annotations

import contextlib
import os
import random
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from tests.support.dockerd import (
    EngineMissing,
    EngineUnderTest,
    PrivateDockerd,
    or_skip,
    prepared_engine,
    running_engine,
)

# 10.218.N.0/30 for a free N: an unlikely subnet, and one per test session on the machine.
_SUBNET = "10.218"
_TOOLS = {
    "ip": "iproute2",
    "nsenter": "util-linux",
    "unshare": "util-linux",
    "ssh": "openssh-client",
    "ssh-keygen": "openssh-client",
    "/usr/sbin/sshd": "openssh-server",
}
_PRIVATE_MOUNTS = ("unshare", "--mount", "--propagation", "private")
# The namespace's first process: its own /tmp and /run, then nothing but holding them.
_HOLDER = (
    "mount -t tmpfs -o mode=1777 tmpfs /tmp && mount -t tmpfs -o mode=755 tmpfs /run && "
    "mkdir -p /run/sshd && echo ready && exec sleep 2147483647"
)


def _sshd_config(folder: Path, address: str, port: int, forwarding: bool) -> str:
    return "\n".join(
        [
            f"ListenAddress {address}",
            f"Port {port}",
            f"HostKey {folder / 'host_key'}",
            f"AuthorizedKeysFile {folder / 'authorized_keys'}",
            "PermitRootLogin prohibit-password",
            "PasswordAuthentication no",
            "KbdInteractiveAuthentication no",
            "UsePAM no",
            "StrictModes no",
            "PidFile none",
            f"AllowStreamLocalForwarding {'yes' if forwarding else 'no'}",
            "",
        ]
    )


def _ssh_config(folder: Path, key: str) -> str:
    return "\n".join(
        [
            "Host *",
            f"  IdentityFile {folder / key}",
            "  IdentitiesOnly yes",
            "  IdentityAgent none",
            f"  UserKnownHostsFile {folder / 'known_hosts'}",
            "  GlobalKnownHostsFile /dev/null",
            "  StrictHostKeyChecking yes",
            "",
        ]
    )


def _free_subnet() -> int:
    used = subprocess.run(["ip", "-o", "-4", "addr"], capture_output=True, text=True, check=True).stdout
    free = [n for n in range(16, 250) if f" {_SUBNET}.{n}." not in used]
    if not free:
        raise RuntimeError(f"no free {_SUBNET}.N.0/30 subnet for the ssh tests' second machine")
    return random.choice(free)


def _children(pid: int) -> list[int]:
    with contextlib.suppress(OSError):
        return [int(child) for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    return []


def _wait_port(address: str, port: int, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 10
    while process.poll() is None and time.monotonic() < deadline:
        with socket.socket() as probe, contextlib.suppress(OSError):
            probe.connect((address, port))
            return
        time.sleep(0.02)
    raise RuntimeError(f"sshd did not listen on {address}:{port}: {log.read_text(errors='replace')}")


@dataclass
class RemoteHost:
    """The second machine: ``url`` is what ddbridge is given, ``engine`` its dockerd as the tests'
    own docker CLI reaches it (through the shared folder, not over ssh)."""

    address: str
    folder: Path
    holder: subprocess.Popen[bytes]
    engine: EngineUnderTest | None = None
    _sshd: dict[int, subprocess.Popen[bytes]] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"ssh://root@{self.address}"

    @property
    def docker(self) -> EngineUnderTest:
        assert self.engine is not None
        return self.engine

    def env(self, config: str = "ssh_config") -> dict[str, str]:
        """The environment that has ddbridge's ssh use ``config`` (``bad_ssh_config``: a key the
        host does not know)."""
        return {"DDBRIDGE_DOCKER_SSH_OPTIONS": f"-F,{self.folder / config}"}

    def nsenter(self) -> list[str]:
        """The command prefix that runs a program on that machine (its network and mounts)."""
        return ["nsenter", "-t", str(self.holder.pid), "-m", "-n", "--"]

    def run(self, *argv: str) -> subprocess.CompletedProcess[str]:
        """``argv`` on that machine, directly (not over ssh)."""
        return subprocess.run([*self.nsenter(), *argv], capture_output=True, text=True, timeout=30)

    def start_sshd(self, port: int = 22, *, forwarding: bool = True) -> None:
        config = self.folder / f"sshd_config_{port}"
        config.write_text(_sshd_config(self.folder, self.address, port, forwarding))
        log = self.folder / f"sshd_{port}.log"
        with log.open("ab") as output:
            process = subprocess.Popen(
                [*self.nsenter(), "/usr/sbin/sshd", "-D", "-e", "-f", str(config)],
                stdout=output,
                stderr=output,
                start_new_session=True,
            )
        self._sshd[port] = process
        _wait_port(self.address, port, process, log)

    def sessions(self, port: int = 22) -> list[int]:
        """The pids of the sshd processes serving a connection (the listener's children)."""
        return _children(self._sshd[port].pid)

    def stop_sshd(self, port: int = 22) -> None:
        """The listener and every connection it serves killed, as when the machine goes away."""
        process = self._sshd.pop(port, None)
        if process is None:
            return
        for pid in [process.pid, *_children(process.pid)]:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        process.wait(10)

    def stop(self) -> None:
        for port in list(self._sshd):
            self.stop_sshd(port)


def _check_tools() -> None:
    if os.geteuid() != 0:
        raise EngineMissing("the ssh tests' second machine (network and mount namespaces) needs root")
    for tool, package in _TOOLS.items():
        if shutil.which(tool) is None:
            raise EngineMissing(f"no {tool} (install Debian's {package})")


def _keys(folder: Path, address: str) -> None:
    """The host key, the test key (authorized) and another one (not), the clients' configs."""
    for name in ("host_key", "client_key", "other_key"):
        subprocess.run(
            ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", name, "-f", str(folder / name)], check=True
        )
    shutil.copy(folder / "client_key.pub", folder / "authorized_keys")
    host_key = (folder / "host_key.pub").read_text().split()[:2]
    (folder / "known_hosts").write_text(f"{address},[{address}]:2222 {' '.join(host_key)}\n")
    (folder / "ssh_config").write_text(_ssh_config(folder, "client_key"))
    (folder / "bad_ssh_config").write_text(_ssh_config(folder, "other_key"))


@contextlib.contextmanager
def _namespace(n: int) -> Iterator[str]:
    """The network namespace ``ddbr-N`` wired to this one; its address. Deleted after."""
    name, here, there = f"ddbr-{n}", f"ddbr{n}h", f"ddbr{n}n"
    steps = [
        ["ip", "netns", "add", name],
        ["ip", "link", "add", here, "type", "veth", "peer", "name", there],
        ["ip", "link", "set", there, "netns", name],
        ["ip", "addr", "add", f"{_SUBNET}.{n}.1/30", "dev", here],
        ["ip", "link", "set", here, "up"],
        ["ip", "-n", name, "addr", "add", f"{_SUBNET}.{n}.2/30", "dev", there],
        ["ip", "-n", name, "link", "set", there, "up"],
        ["ip", "-n", name, "link", "set", "lo", "up"],
    ]
    try:
        for step in steps:
            subprocess.run(step, check=True, capture_output=True)
        yield f"{_SUBNET}.{n}.2"
    finally:
        subprocess.run(["ip", "link", "del", here], capture_output=True, check=False)
        subprocess.run(["ip", "netns", "del", name], capture_output=True, check=False)


@contextlib.contextmanager
def _holder(n: int) -> Iterator[subprocess.Popen[bytes]]:
    process = subprocess.Popen(
        ["nsenter", f"--net=/run/netns/ddbr-{n}", *_PRIVATE_MOUNTS, "sh", "-c", _HOLDER],
        stdout=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        assert process.stdout is not None
        if process.stdout.readline().strip() != b"ready":
            raise RuntimeError("the ssh tests' second machine did not get its own /tmp and /run")
        yield process
    finally:
        process.kill()
        process.wait(10)
        if process.stdout is not None:
            process.stdout.close()


@contextlib.contextmanager
def provide_remote() -> Iterator[RemoteHost]:
    """The second machine, its sshd and dockerd up, with the busybox image and a "vm" container;
    everything stopped and removed after (the namespaces go with their last process)."""
    _check_tools()
    n = _free_subnet()
    with contextlib.ExitStack() as stack:
        folder = Path(tempfile.mkdtemp(prefix="ddbr-", dir="/var/tmp"))
        stack.callback(shutil.rmtree, folder, ignore_errors=True)
        address = stack.enter_context(_namespace(n))
        remote = RemoteHost(address, folder, stack.enter_context(_holder(n)))
        _keys(folder, address)
        stack.callback(remote.stop)
        remote.start_sshd()
        dockerd = PrivateDockerd(folder / "d", prefix=remote.nsenter(), hosts=["unix:///var/run/docker.sock"])
        dockerd.root.mkdir()
        stack.enter_context(running_engine(dockerd))
        remote.engine = stack.enter_context(prepared_engine(dockerd.host, dockerd))
        yield remote


def remote_or_skip(purpose: str) -> Iterator[RemoteHost]:
    """The body of a session fixture: ``provide_remote``'s machine, or a skip (a failure under CI)."""
    yield from or_skip(provide_remote(), purpose, "a second machine with sshd and dockerd")
