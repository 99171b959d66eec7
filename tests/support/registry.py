"""A real image registry on loopback for pulling tests: Debian's ``docker-registry`` (distribution 2.8).

Each registry is a subprocess listening on ``127.0.0.1:PORT``, its storage in a temp folder, its
config a YAML file beside it; one may require htpasswd basic auth (``htpasswd -B`` of
apache2-utils writes the bcrypt line, the only kind distribution reads). Plain http is enough:
dockerd treats registries on 127.0.0.0/8 as insecure by default, and pushes, pulls and sends
basic-auth credentials to them over http (distribution's htpasswd does not insist on TLS), so no
certificate and no dockerd flag are needed.

Images reach a registry through the docker CLI against the test engine (tag, push); the pushed
name is then removed from the engine, and ``fresh_image`` makes layers no engine has, so a
pull really downloads.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import yaml

from bridge.testing import free_port
from tests.support.dockerd import EngineUnderTest
from tests.support.images import import_files

BINARY = Path("/usr/bin/docker-registry")


class RegistryMissing(Exception):
    """No registry can be started here: the reason says what to install."""


@dataclass(frozen=True)
class PushedImage:
    """An image on a registry: ``reference`` (``127.0.0.1:PORT/name:tag``), its manifest digest
    and the id the engine gives it once pulled."""

    repository: str
    tag: str
    digest: str
    image_id: str

    @property
    def reference(self) -> str:
        return f"{self.repository}:{self.tag}"

    @property
    def by_digest(self) -> str:
        return f"{self.repository}@{self.digest}"


@dataclass
class Registry:
    """A running registry; ``user`` is its (name, password) when it wants basic auth."""

    address: str
    root: Path
    user: tuple[str, str] | None
    process: subprocess.Popen[bytes]

    @property
    def log_path(self) -> Path:
        return self.root / "registry.log"

    def push(
        self, engine: EngineUnderTest, image: str, name: str, *, remove_source: bool = False
    ) -> PushedImage:
        """Push the engine's ``image`` as ``ADDRESS/name`` (``name`` may carry ``:tag``), then
        remove that name from the engine (and ``image`` too with ``remove_source``)."""
        repository, _, tag = name.partition(":")
        pushed = f"{self.address}/{repository}:{tag or 'latest'}"
        engine.docker("tag", image, pushed)
        try:
            with self._login(engine) as config:
                engine.docker(*config, "push", pushed, timeout=300)
            image_id = engine.docker("image", "inspect", "-f", "{{.Id}}", pushed).stdout.strip()
            digests = engine.docker("image", "inspect", "-f", "{{json .RepoDigests}}", pushed).stdout
        finally:
            engine.docker("rmi", pushed, *([image] if remove_source else []), check=False)
        prefix = f"{self.address}/{repository}@"
        digest = next(d for d in yaml.safe_load(digests) if d.startswith(prefix)).removeprefix(prefix)
        return PushedImage(f"{self.address}/{repository}", tag or "latest", digest, image_id)

    @contextlib.contextmanager
    def _login(self, engine: EngineUnderTest) -> Iterator[list[str]]:
        """The docker CLI's ``--config DIR`` logged in to this registry (nothing without auth), so
        the test's own config and the machine's are never touched."""
        if self.user is None:
            yield []
            return
        with tempfile.TemporaryDirectory(prefix="ddb-login-") as folder:
            config = ["--config", folder]
            name, password = self.user
            engine.docker(
                *config, "login", "-u", name, "--password-stdin", self.address, input=password.encode()
            )
            yield config

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def _htpasswd(user: tuple[str, str]) -> str:
    binary = shutil.which("htpasswd")
    if binary is None:
        raise RegistryMissing("no htpasswd on PATH (install Debian's apache2-utils)")
    name, password = user
    return subprocess.run(
        [binary, "-Bbn", name, password], capture_output=True, text=True, check=True
    ).stdout.strip()


def _answers(address: str) -> bool:
    """Whether the registry answers ``/v2/`` (200, or 401 when it wants credentials)."""
    try:
        with urllib.request.urlopen(f"http://{address}/v2/", timeout=2):
            return True
    except urllib.error.HTTPError as exc:
        return exc.code == 401
    except OSError:
        return False


@contextlib.contextmanager
def running_registry(user: tuple[str, str] | None = None, timeout: float = 20) -> Iterator[Registry]:
    """A registry on loopback for the block's duration, its storage deleted after."""
    if not BINARY.exists():
        raise RegistryMissing(f"no {BINARY} (install Debian's docker-registry)")
    root = Path(tempfile.mkdtemp(prefix="ddb-registry-"))
    try:
        address = f"127.0.0.1:{free_port()}"
        config: dict[str, object] = {
            "version": 0.1,
            "log": {"level": "warn"},
            "storage": {"filesystem": {"rootdirectory": str(root / "storage")}},
            "http": {"addr": address, "secret": secrets.token_hex(16)},
        }
        if user is not None:
            (root / "htpasswd").write_text(_htpasswd(user) + "\n")
            config["auth"] = {"htpasswd": {"realm": "ddbridge-test", "path": str(root / "htpasswd")}}
        (root / "config.yml").write_text(yaml.safe_dump(config))
        with (root / "registry.log").open("ab") as log:
            process = subprocess.Popen(
                [str(BINARY), "serve", str(root / "config.yml")],
                stdout=log,
                stderr=log,
                start_new_session=True,
            )
        registry = Registry(address, root, user, process)
        try:
            deadline = time.monotonic() + timeout
            while not _answers(address):
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(
                        f"docker-registry did not answer on {address} within {timeout} s; its log:\n"
                        + registry.log_path.read_text(errors="replace")[-3000:]
                    )
                time.sleep(0.05)
            yield registry
        finally:
            registry.stop()
    finally:
        shutil.rmtree(root, ignore_errors=True)


def registry_or_skip(purpose: str, user: tuple[str, str] | None = None) -> Iterator[Registry]:
    """The body of a session fixture: ``yield from registry_or_skip("the pull tests")``.

    Without Debian's docker-registry (or apache2-utils, for ``user``) the tests skip, saying what
    to install; under CI they fail instead.
    """
    import pytest

    try:
        with running_registry(user) as registry:
            yield registry
    except RegistryMissing as exc:
        if os.environ.get("CI"):
            pytest.fail(f"{purpose} need a registry: {exc}", pytrace=False)
        pytest.skip(f"no registry for {purpose}: {exc}")


def fresh_image(engine: EngineUnderTest, tag: str, layers: int = 2, size: int = 256 * 1024) -> str:
    """An image of ``layers`` layers of random bytes (``size`` each), which no engine has yet,
    as ``tag``: a ``docker import`` and a build with a ``COPY`` per further layer on it. Its base
    is untagged after, so removing ``tag`` removes every layer (with either builder)."""
    base = import_files(engine, f"{tag}-base", {"layer-0": secrets.token_bytes(size)})
    try:
        with tempfile.TemporaryDirectory(prefix="ddb-layers-") as folder:
            steps = [f"FROM {base}"]
            for index in range(1, layers):
                (Path(folder) / f"layer-{index}").write_bytes(secrets.token_bytes(size))
                steps.append(f"COPY layer-{index} /")
            (Path(folder) / "Dockerfile").write_text("\n".join(steps) + "\n")
            engine.docker("build", "-q", "-t", tag, folder, timeout=120)
    finally:
        engine.docker("rmi", base, check=False)
    return tag
