"""Every error the bridge reports to a client, and its JSON-RPC code.

Class tree::

    BridgeError                 -32603 internal error (base; never raised bare)
    ├── ServiceError            -32001 the extension backend answered non-2xx or could not be reached
    ├── ExecError               -32002 a command could not be started (not allowed, not found, bad cwd)
    ├── Forbidden               -32003 refused by a security rule
    ├── DockerUnavailable       -32004 the Docker engine cannot be reached
    ├── LimitExceeded           -32005 an output cap or a stream limit was hit
    ├── UnknownStream           -32006 no such stream on this connection
    ├── NotConfigured           -32007 the call needs a setting that was not given
    ├── NotFound                -32008 the Docker object a call names does not exist
    ├── NoMockAnswer            -32009 mock mode: the mock file scripts no answer for the call
    └── InvalidParams           -32602 params that passed validation were refused further on

Errors from httpx, aiodocker and the OS are translated into these where they enter
(``raise ServiceError(...) from exc``); ``bridge.rpc`` maps them to the wire in one place.
Messages are written for the person reading the browser console: they name what was wrong
and, where it helps, how to fix it. They never carry a traceback.
"""

from __future__ import annotations

from typing import Any


class BridgeError(Exception):
    """Base class: an error with a JSON-RPC code and structured data for the client."""

    code = -32603

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    @property
    def data(self) -> dict[str, Any]:
        return {}


class ServiceError(BridgeError):
    """The extension backend answered with a non-2xx status, or could not be reached."""

    code = -32001

    def __init__(self, status_code: int, reason: str, message: str) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.reason = reason

    @property
    def data(self) -> dict[str, Any]:
        return {"name": self.reason, "message": self.message, "statusCode": self.status_code}


class ExecError(BridgeError):
    """A command could not be started: the binary is not allowed or missing, the cwd is bad."""

    code = -32002

    def __init__(self, message: str, *, target: str, cmd: str) -> None:
        super().__init__(message)
        self.target = target
        self.cmd = cmd

    @property
    def data(self) -> dict[str, Any]:
        return {"target": self.target, "cmd": self.cmd}


class Forbidden(BridgeError):
    """The request was refused by a security rule (URL scheme, absolute service URL, ...)."""

    code = -32003


class DockerUnavailable(BridgeError):
    """The Docker engine cannot be reached at the configured address."""

    code = -32004

    def __init__(self, message: str, *, host: str) -> None:
        super().__init__(message)
        self.host = host

    @property
    def data(self) -> dict[str, Any]:
        return {"host": self.host}


class LimitExceeded(BridgeError):
    """An output cap or a stream limit was hit."""

    code = -32005

    def __init__(self, message: str, *, limit: str, value: int) -> None:
        super().__init__(message)
        self.limit = limit
        self.value = value

    @property
    def data(self) -> dict[str, Any]:
        return {"limit": self.limit, "value": self.value}


class UnknownStream(BridgeError):
    """The stream id names no stream of this connection (never started, or already ended)."""

    code = -32006

    def __init__(self, stream: str) -> None:
        super().__init__(f"no stream {stream!r} on this connection (it ended or never started)")
        self.stream = stream

    @property
    def data(self) -> dict[str, Any]:
        return {"stream": self.stream}


class NotConfigured(BridgeError):
    """The call needs a setting that this bridge was started without."""

    code = -32007

    def __init__(self, message: str, *, setting: str) -> None:
        super().__init__(message)
        self.setting = setting

    @property
    def data(self) -> dict[str, Any]:
        return {"setting": self.setting}


class NotFound(BridgeError):
    """The container, image or volume a call names does not exist on the engine (a navigation
    to it rejects, as Docker Desktop's does)."""

    code = -32008

    def __init__(self, message: str, *, kind: str, id: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.id = id

    @property
    def data(self) -> dict[str, Any]:
        return {"kind": self.kind, "id": self.id}


class NoMockAnswer(BridgeError):
    """Mock mode (``--mock FILE``): no scripted entry matches the call. The message names the
    call and the closest scripted entries, so a typo in the page or the file shows at once."""

    code = -32009

    def __init__(self, call: str, closest: list[str], what: str) -> None:
        hint = f"closest: {', '.join(closest)}" if closest else f"the mock file scripts no {what}"
        super().__init__(f"no mock answer for {call}; {hint}")
        self.call = call
        self.closest = closest

    @property
    def data(self) -> dict[str, Any]:
        return {"call": self.call, "closest": self.closest}


class OperationFailed(BridgeError):
    """A management operation of the extensions host (install, update, remove, dev ui-source)
    failed; the message says why, as the CLI would print it."""

    code = -32010


class InvalidParams(BridgeError):
    """Params the bridge's own validation accepted but something further on refused (the Docker
    engine rejecting a filter name, say). Same code and data shape as a validation failure."""

    code = -32602

    def __init__(self, message: str, *, field: str) -> None:
        super().__init__(message)
        self.field = field

    @property
    def data(self) -> dict[str, Any]:
        return {"errors": [{"field": self.field, "message": self.message}]}


class ConfigError(Exception):
    """Bad command line or configuration file; the CLI prints it on one line and exits 2."""
