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
from bridge.docker_contexts import (
    DEFAULT_CONTEXT,
    DockerContext,
    config_dir,
    current_context,
    read_context,
    shown_path,
)
from bridge.engine_discovery import find_podman
from bridge.engine_machine import EngineMachine, LocalMachine
from bridge.errors import DockerUnavailable, InvalidParams
from bridge.podman import is_podman
from bridge.rpc import RawJson, loads, raw_json
from bridge.ssh_engine import SCHEME as SSH_SCHEME
from bridge.ssh_engine import SshMachine

DEFAULT_HOST = "unix:///var/run/docker.sock"
DEFAULT_SOURCE = "the default socket"
HOST_SETTING = "[docker] host"
CONTEXT_SETTING = "[docker] context"
# aiodocker reports "cannot connect" as a DockerError with this pseudo status.
_CONNECT_FAILED = 900
# The engine's answer to plain HTTP on its TLS port.
_PLAIN_TO_TLS = "Client sent an HTTP request to an HTTPS server."
# OpenSSL's words in a message: "[SSL: CODE] what went wrong (_ssl.c:1006)".
_SSL_DETAIL = re.compile(r"\[SSL: \w+\] ([^()\]]+?) \(_ssl")
# Engine calls that are not streams get this long (seconds); exec streams are not limited.
_TIMEOUT = 120
_CONNECT_TIMEOUT = 10


def silence_timeout(seconds: float) -> aiohttp.ClientTimeout:
    """The timeout of an engine stream that lasts as long as it takes (a pull, an archive): it
    fails when connecting takes the usual time, or when the engine is silent ``seconds``."""
    return aiohttp.ClientTimeout(total=None, sock_connect=_CONNECT_TIMEOUT, sock_read=seconds)


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
    """Where the engine listens, as the docker CLI spells it, the TLS material to use (or, for
    ``ssh://``, the extra ssh arguments), and how it was chosen (``context``, ``source``: what the
    ready line, the inspector and doctor show)."""

    host: str
    tls_verify: bool = False
    # Where ca.pem, cert.pem and key.pem are (those present are used); None: none of them.
    cert_path: Path | None = None
    ssh_options: tuple[str, ...] = ()
    # TLS without verifying the engine (``DOCKER_TLS``, a context's SkipTLSVerify); verifying
    # (``tls_verify``) is TLS too.
    tls: bool = False
    context: str | None = None
    source: str = "given"

    @classmethod
    def resolve(cls, settings: DockerSettings, environ: Mapping[str, str] | None = None) -> EngineAddress:
        """The engine as the docker CLI chooses it, ddbridge's own setting first: ``[docker] host``
        (``--docker-host``), a context named by ``[docker] context`` (``--context``), then
        ``DOCKER_HOST``, ``DOCKER_CONTEXT``, ``currentContext`` of the CLI's config.json, and
        the default socket, or Podman's when only that answers (``bridge.engine_discovery``).
        The context ``default`` is no context: ``DOCKER_HOST`` or the socket.

        A ``ContextError`` (a ``ConfigError``) names a context that is not in the store, or
        whose files are damaged."""
        env = os.environ if environ is None else environ
        if settings.host:
            return cls._of_host(settings.host, settings, env, f"{HOST_SETTING} / --docker-host")
        folder = config_dir(env)
        chosen = _chosen_context(settings, env, folder)
        if chosen is not None and chosen[0] != DEFAULT_CONTEXT:
            return cls._of_context(read_context(chosen[0], folder), settings, chosen[1])
        if env.get("DOCKER_HOST"):
            return cls._of_host(env["DOCKER_HOST"], settings, env, "DOCKER_HOST")
        podman = find_podman(env)
        if podman is not None:
            return cls(podman.host, ssh_options=settings.ssh_options, source=podman.source)
        return cls(DEFAULT_HOST, ssh_options=settings.ssh_options, source=DEFAULT_SOURCE)

    @classmethod
    def _of_host(
        cls, host: str, settings: DockerSettings, env: Mapping[str, str], source: str
    ) -> EngineAddress:
        """``host`` with the TLS of the settings, else of the environment, as the CLI reads it:
        any non-empty ``DOCKER_TLS_VERIFY`` verifies (``0`` too), ``DOCKER_TLS`` asks for TLS
        without verifying, the files are in ``DOCKER_CERT_PATH``, else the CLI's config folder."""
        tls_verify = settings.tls_verify
        if tls_verify is None:
            tls_verify = env.get("DOCKER_TLS_VERIFY", "") != ""
        tls = tls_verify or env.get("DOCKER_TLS", "") != ""
        cert_path = settings.cert_path
        if cert_path is None and env.get("DOCKER_CERT_PATH"):
            cert_path = Path(env["DOCKER_CERT_PATH"])
        if cert_path is None and tls:
            cert_path = config_dir(env)
        cert = cert_path.expanduser() if cert_path is not None else None
        return cls(host, tls_verify, cert, settings.ssh_options, tls, source=source)

    @classmethod
    def _of_context(cls, context: DockerContext, settings: DockerSettings, why: str) -> EngineAddress:
        """The context's endpoint: TLS when it has TLS files or skips verifying, as the CLI does."""
        tls = context.uses_tls
        verify = tls and not context.skip_tls_verify
        source = f"context {context.name!r} from {why}"
        cert = context.tls_folder if tls else None
        return cls(context.host, verify, cert, settings.ssh_options, tls, context.name, source)

    @property
    def uses_tls(self) -> bool:
        return not self.host.startswith(("unix://", SSH_SCHEME)) and (
            self.tls or self.tls_verify or self.host.startswith("https://")
        )

    @property
    def shown(self) -> str:
        """The engine and how it was chosen: ``tcp://h:2376 (context 'x' from DOCKER_CONTEXT)``."""
        return f"{self.host} ({self.source})"

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

    def tls_file(self, name: str) -> Path | None:
        """``cert_path / name`` when that file is there."""
        path = self.cert_path / name if self.cert_path is not None else None
        return path if path is not None and path.is_file() else None

    def ssl_context(self) -> ssl.SSLContext | None:
        """Verify the engine with ``ca.pem`` (else the system's CAs) and present ``cert.pem`` /
        ``key.pem`` when they are there, as the CLI does (it leaves out the files it lacks)."""
        if not self.uses_tls:
            return None
        ca, cert, key = (self.tls_file(name) for name in ("ca.pem", "cert.pem", "key.pem"))
        try:
            context = ssl.create_default_context(cafile=str(ca) if ca and self.tls_verify else None)
            if cert is not None and key is not None:
                context.load_cert_chain(str(cert), str(key))
        except (OSError, ssl.SSLError) as exc:
            raise DockerUnavailable(
                f"cannot load the TLS certificates for the Docker engine at {self.host} from "
                f"{self.cert_path}: {exc}",
                host=self.host,
            ) from exc
        if not self.tls_verify:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        return context

    def cli_env(self) -> dict[str, str]:
        """The environment that points the docker CLI and compose at this same engine.

        Every variable by which they choose an engine is given, those that do not apply as empty
        strings (to both, unset): an inherited ``DOCKER_CONTEXT`` or ``DOCKER_TLS_VERIFY`` cannot
        send them elsewhere. docker-compose v1 verifies against ``REQUESTS_CA_BUNDLE`` (or
        ``CURL_CA_BUNDLE``) instead of ca.pem when one is set, so those are emptied when ca.pem
        is what verifies the engine.
        """
        tls = self.uses_tls
        env = {
            "DOCKER_HOST": self.host,
            "DOCKER_CONTEXT": "",
            "DOCKER_TLS_VERIFY": "1" if tls and self.tls_verify else "",
            "DOCKER_TLS": "1" if tls and not self.tls_verify else "",
            "DOCKER_CERT_PATH": str(self.cert_path) if tls and self.cert_path is not None else "",
        }
        if tls and self.tls_verify and self.tls_file("ca.pem") is not None:
            env["REQUESTS_CA_BUNDLE"] = env["CURL_CA_BUNDLE"] = ""
        return env


def _chosen_context(settings: DockerSettings, env: Mapping[str, str], folder: Path) -> tuple[str, str] | None:
    """The context that names the engine and why, as the CLI's precedence has it: ``--context``
    (even over ``DOCKER_HOST``), then, without ``DOCKER_HOST``, ``DOCKER_CONTEXT`` and the
    config's ``currentContext``."""
    if settings.context:
        return settings.context, f"{CONTEXT_SETTING} / --context"
    if env.get("DOCKER_HOST"):
        return None
    if env.get("DOCKER_CONTEXT"):
        return env["DOCKER_CONTEXT"], "DOCKER_CONTEXT"
    current = current_context(folder)
    if current:
        return current, f"currentContext of {shown_path(folder / 'config.json')}"
    return None


class DockerEngine:
    """The bridge's one aiodocker client, made on first use and shared by every page."""

    def __init__(self, address: EngineAddress) -> None:
        self.address = address
        self.machine = address.machine()
        self._client: aiodocker.Docker | None = None
        self._podman: bool | None = None

    @property
    def host(self) -> str:
        return self.address.host

    def unavailable(self, reason: object) -> DockerUnavailable:
        """ "Cannot reach" naming the engine (and the context that chose it) and the reason; TLS
        failures say what is wrong with the certificates instead of asking whether it runs."""
        text = str(reason)
        remedy = _tls_trouble(self.address, text) or f"{text} ({self.machine.hint})"
        context = self.address.context
        via = f" (context {context!r})" if context else ""
        return DockerUnavailable(
            f"cannot reach the Docker engine at {self.host}{via}: {remedy}", host=self.host
        )

    async def _connected(self) -> aiodocker.Docker:
        """The aiodocker client, made once the machine is reached (an ssh engine's first call
        connects); making it does not connect to the engine itself."""
        if self._client is None:
            url = await self.machine.connect()
            timeout = aiohttp.ClientTimeout(total=_TIMEOUT, sock_connect=_CONNECT_TIMEOUT)
            self._client = aiodocker.Docker(url=url, ssl_context=self.address.ssl_context(), timeout=timeout)
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
            if exc.status == _CONNECT_FAILED:
                raise self.unavailable(await self.machine.explain(_connect_reason(exc))) from exc
            if exc.status == 400 and _PLAIN_TO_TLS in str(exc.message):
                raise self.unavailable(_PLAIN_TO_TLS) from exc
            raise
        except aiohttp.ClientError as exc:
            raise self.unavailable(await self.machine.explain(str(exc) or type(exc).__name__)) from exc
        except TimeoutError as exc:
            raise self.unavailable(f"no answer within {_TIMEOUT} s") from exc

    async def get_json(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        """``GET`` an Engine API path and return the JSON exactly as the engine sent it.

        aiodocker's own list helpers wrap each container in an object; its JSON query is what
        they use underneath, so the pages get the engine's JSON untouched.
        """
        async with self.translate() as client:
            return await client._query_json(path, "GET", params=dict(params or {}))

    async def get_raw(self, path: str, params: Mapping[str, Any] | None = None) -> RawJson | Any:
        """``GET`` an Engine API path for a page: the answer as its own text when it is strict
        JSON (``bridge.rpc.raw_json``), else parsed. A list of 1,000 containers is 1-2 MB that
        aiodocker would parse with the stdlib and the reply encode again, for nothing: the page
        gets the engine's JSON as it is either way."""
        async with (
            self.translate() as client,
            client._query(path, "GET", params=dict(params or {})) as response,
        ):
            body = await response.read()
        return raw_json(body) or loads(body)

    async def is_podman(self) -> bool:
        """Whether the engine is Podman (``bridge.podman``), asked on first need and remembered."""
        if self._podman is None:
            self._podman = is_podman(await self.get_json("version"))
        return self._podman

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.close()
            self._client = None
        await self.machine.aclose()


def _tls_trouble(address: EngineAddress, reason: str) -> str | None:
    """What is wrong with the TLS between ddbridge and the engine, and what to do, when
    ``reason`` (OpenSSL's words, or the engine's answer to plain HTTP) is a TLS failure."""
    folder = address.cert_path or "the TLS folder"
    detail = _SSL_DETAIL.search(reason)
    said = detail.group(1) if detail else reason
    if "CERTIFICATE_VERIFY_FAILED" in reason:
        ca = address.tls_file("ca.pem")
        return (
            f"TLS: the engine's certificate does not verify against {ca or 'the system CAs'} ({said}): "
            f"give the CA that signed it as ca.pem in {folder} (DOCKER_CERT_PATH, or the context's ca=)"
        )
    if any(alert in reason for alert in ("BAD_CERTIFICATE", "CERTIFICATE_REQUIRED", "UNKNOWN_CA")):
        cert = address.tls_file("cert.pem")
        return (
            f"TLS: the engine refused ddbridge's client certificate ({cert or 'none given'}; {said}): "
            f"put the cert.pem and key.pem the engine's CA signed in {folder} (DOCKER_CERT_PATH, or the "
            "context's cert= and key=)"
        )
    if "WRONG_VERSION_NUMBER" in reason:
        return (
            f"TLS: the engine does not speak TLS on this port ({said}): unset DOCKER_TLS_VERIFY and "
            "DOCKER_TLS, or give the engine's TLS port"
        )
    if reason == _PLAIN_TO_TLS:
        return (
            "TLS: the engine speaks only TLS on this port and ddbridge spoke plain HTTP: set "
            "DOCKER_TLS_VERIFY=1 and DOCKER_CERT_PATH to the folder of ca.pem, cert.pem and key.pem, "
            "or a context (`docker context create NAME --docker host=...,ca=...,cert=...,key=...`)"
        )
    return None


def _connect_reason(exc: aiodocker.DockerError) -> str:
    """aiodocker's message is "Cannot connect to Docker Engine via X [reason]": keep the reason."""
    message = str(exc.message)
    start = message.find("[")
    return message[start + 1 : -1] if start != -1 and message.endswith("]") else message
