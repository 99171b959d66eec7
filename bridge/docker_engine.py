"""The Docker engine connection: where it is, one lazily made client, and its errors translated.

The daemon must start and serve pages whether or not an engine is running, so nothing here
connects at start-up: the aiodocker client is made on first use and every call goes through
``translate``, which turns "cannot connect" (and a hung engine) into ``DockerUnavailable``
naming the address. aiohttp drops pooled connections that the engine closed, so when the
engine comes back the next call simply opens a new one: no reconnect logic, no restart.

How the engine is reached is its machine's business (``bridge.engine_machine``): a local socket
or ``tcp://`` as they are, ``ssh://`` through a forward over an ssh connection
(``bridge.ssh_engine``), which reconnects by itself. ``DockerEngine.host`` stays the address as
configured, for messages; ``cli_env`` is what points the docker CLI at the same engine.

Engine errors with an HTTP status are left to the caller, which knows what they mean (a 404 on
``/containers/x/exec`` is "no such container", on a list call it would be something else).

Every value a page (or an operator) gives that becomes part of an Engine API path goes through
``container_ref`` / ``image_ref`` and then ``segment``. Quoting alone is not enough: the engine
decodes the path before routing it (``victim%2Fpause`` reaches ``/containers/victim/pause``) and
cleans ``..``, so a value is first held to the grammar of what it names, then quoted.
"""

from __future__ import annotations

import os
import re
import ssl
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import aiodocker
import aiohttp

from bridge.config import DockerSettings
from bridge.engine_machine import EngineMachine, LocalMachine
from bridge.errors import DockerUnavailable, InvalidParams
from bridge.ssh_engine import SCHEME as SSH_SCHEME
from bridge.ssh_engine import SshMachine

DEFAULT_HOST = "unix:///var/run/docker.sock"
# aiodocker reports "cannot connect" as a DockerError with this pseudo status.
_CONNECT_FAILED = 900
# Engine calls that are not streams get this long; exec streams are not limited.
_TIMEOUT = aiohttp.ClientTimeout(total=120, sock_connect=10)

# Docker's container name grammar (with the leading "/" lists show), or an id or its prefix.
_CONTAINER = re.compile(r"/?[a-zA-Z0-9][a-zA-Z0-9_.-]+|[0-9a-f]{1,64}", re.ASCII)
# An image id or reference: components that start with a letter or digit, then a tag or digest.
_IMAGE = re.compile(
    r"[a-zA-Z0-9][\w.-]*(:[0-9]+)?(/[a-zA-Z0-9][\w.-]*)*(:\w[\w.-]*)?(@[a-z0-9]+:[0-9a-fA-F]+)?", re.ASCII
)


def segment(value: str) -> str:
    """One Engine API path segment, percent-quoted (``/``, ``?``, ``#``, ``%`` included)."""
    return quote(value, safe="")


def is_container_ref(value: str) -> bool:
    """Whether ``value`` is a container name (``name`` or ``/name``) or a hex id (prefix)."""
    return _CONTAINER.fullmatch(value) is not None


def container_ref(value: str, *, field: str) -> str:
    """``value``, once it is a container name or id; else ``InvalidParams`` naming ``field``."""
    if not is_container_ref(value):
        raise InvalidParams(
            f"{field}: {value!r} is not a container name ([a-zA-Z0-9][a-zA-Z0-9_.-]+) or id",
            field=field,
        )
    return value.removeprefix("/")


def is_image_ref(value: str) -> bool:
    """Whether ``value`` is an image id or reference (``host:port/repo/name:tag@sha256:...``)."""
    return _IMAGE.fullmatch(value) is not None


@dataclass(frozen=True, slots=True)
class EngineAddress:
    """Where the engine listens, as the docker CLI spells it, and the TLS material to use (or,
    for ``ssh://``, the extra ssh arguments)."""

    host: str
    tls_verify: bool = False
    cert_path: Path | None = None
    ssh_options: tuple[str, ...] = ()

    @classmethod
    def resolve(cls, settings: DockerSettings, environ: Mapping[str, str] | None = None) -> EngineAddress:
        """The configured address, else the docker CLI's own defaults (``DOCKER_HOST`` & co)."""
        env = os.environ if environ is None else environ
        host = settings.host or env.get("DOCKER_HOST") or DEFAULT_HOST
        tls_verify = settings.tls_verify
        if tls_verify is None:
            tls_verify = env.get("DOCKER_TLS_VERIFY", "") not in ("", "0")
        cert_path = settings.cert_path
        if cert_path is None and env.get("DOCKER_CERT_PATH"):
            cert_path = Path(env["DOCKER_CERT_PATH"])
        cert = cert_path.expanduser() if cert_path is not None else None
        return cls(host, tls_verify, cert, ssh_options=settings.ssh_options)

    @property
    def uses_tls(self) -> bool:
        return not self.host.startswith(("unix://", SSH_SCHEME)) and (
            self.tls_verify or self.host.startswith("https://")
        )

    def machine(self) -> EngineMachine:
        """How this engine and its machine are reached (ssh connections are shared)."""
        if self.host.startswith(SSH_SCHEME):
            return SshMachine.shared(self.host, self.ssh_options)
        return LocalMachine(self.url(), self.cli_env())

    def url(self) -> str:
        """The address for aiohttp: ``tcp://`` becomes ``http://`` or ``https://``."""
        if self.host.startswith("tcp://"):
            return ("https://" if self.uses_tls else "http://") + self.host.removeprefix("tcp://")
        return self.host

    def ssl_context(self) -> ssl.SSLContext | None:
        """Verify the engine with ``ca.pem`` and present ``cert.pem``/``key.pem``, as the CLI does."""
        if not self.uses_tls:
            return None
        folder = self.cert_path or Path.home() / ".docker"
        context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
        try:
            if self.tls_verify:
                context.load_verify_locations(cafile=str(folder / "ca.pem"))
            if (folder / "cert.pem").exists():
                context.load_cert_chain(str(folder / "cert.pem"), str(folder / "key.pem"))
        except (OSError, ssl.SSLError) as exc:
            raise DockerUnavailable(
                f"cannot load the TLS certificates for the Docker engine at {self.host} from {folder}: {exc}",
                host=self.host,
            ) from exc
        if not self.tls_verify:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        return context

    def cli_env(self) -> dict[str, str]:
        """The environment that points the docker CLI at this same engine."""
        env = {"DOCKER_HOST": self.host}
        if self.tls_verify:
            env["DOCKER_TLS_VERIFY"] = "1"
        if self.cert_path is not None:
            env["DOCKER_CERT_PATH"] = str(self.cert_path)
        return env


class DockerEngine:
    """The bridge's one aiodocker client, made on first use and shared by every page."""

    def __init__(self, address: EngineAddress) -> None:
        self.address = address
        self.machine = address.machine()
        self._client: aiodocker.Docker | None = None

    @property
    def host(self) -> str:
        return self.address.host

    def unavailable(self, reason: object) -> DockerUnavailable:
        return DockerUnavailable(
            f"cannot reach the Docker engine at {self.host}: {reason} ({self.machine.hint})",
            host=self.host,
        )

    async def _connected(self) -> aiodocker.Docker:
        """The aiodocker client, made once the machine is reached (an ssh engine's first call
        connects); making it does not connect to the engine itself."""
        if self._client is None:
            url = await self.machine.connect()
            self._client = aiodocker.Docker(url=url, ssl_context=self.address.ssl_context(), timeout=_TIMEOUT)
        return self._client

    async def cli_env(self) -> dict[str, str]:
        """The environment that points the docker CLI (and compose) at this same engine."""
        return await self.machine.cli_env()

    @asynccontextmanager
    async def translate(self) -> AsyncIterator[aiodocker.Docker]:
        """Yield the client; connection failures and timeouts become ``DockerUnavailable``."""
        try:
            yield await self._connected()
        except aiodocker.DockerError as exc:
            if exc.status != _CONNECT_FAILED:
                raise
            raise self.unavailable(await self.machine.explain(_connect_reason(exc))) from exc
        except aiohttp.ClientError as exc:
            raise self.unavailable(await self.machine.explain(str(exc) or type(exc).__name__)) from exc
        except TimeoutError as exc:
            raise self.unavailable(f"no answer within {_TIMEOUT.total:g} s") from exc

    async def get_json(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        """``GET`` an Engine API path and return the JSON exactly as the engine sent it.

        aiodocker's own list helpers wrap each container in an object; its JSON query is what
        they use underneath, so the pages get the engine's JSON untouched.
        """
        async with self.translate() as client:
            return await client._query_json(path, "GET", params=dict(params or {}))

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.close()
            self._client = None
        await self.machine.aclose()


def _connect_reason(exc: aiodocker.DockerError) -> str:
    """aiodocker's message is "Cannot connect to Docker Engine via X [reason]": keep the reason."""
    message = str(exc.message)
    start = message.find("[")
    return message[start + 1 : -1] if start != -1 and message.endswith("]") else message
