"""Method registry and dispatch: validated params in, response objects out.

A method is an ``async def handler(params: Model, ctx) -> result`` registered on a
``MethodRouter``; the params model (pydantic) is read from the handler's annotation, so the
signature is the schema. ``dispatch`` runs the items of a frame (a batch concurrently), maps
``BridgeError`` subclasses to their codes, and never lets an exception escape except
cancellation. An optional observer sees each request start and finish (the inspector's hook).
``admit`` keeps a frame within the room its connection has: every request counts, batch
members too.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import logging
import typing
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Generic, Protocol, TypeVar

from pydantic import BaseModel, ValidationError

from bridge.errors import BridgeError
from bridge.rpc.protocol import (
    INTERNAL_ERROR,
    INVALID_PARAMS,
    METHOD_NOT_FOUND,
    PIECE_FROM,
    Frame,
    Invalid,
    JsonText,
    RawJson,
    Request,
    RpcError,
    dumps,
    dumps_pieces,
    error_response,
    result_response,
)

log = logging.getLogger("ddbridge.rpc")

Ctx = TypeVar("Ctx")
Token = TypeVar("Token")
Handler = Callable[[Any, Any], Awaitable[Any]]
Callback = Callable[[], object]  # what it returns is not used


@dataclass(frozen=True, slots=True)
class AfterReply:
    """A handler's result plus a callback to run once the reply has been sent.

    ``exec.spawn`` uses it so that a stream's first notification never overtakes the response
    that tells the client the stream's id.
    """

    result: Any
    then: Callback


@dataclass(frozen=True, slots=True)
class Method:
    name: str
    params: type[BaseModel]
    handler: Handler


@dataclass(slots=True)
class Reply:
    """The responses to send for one frame (none when it held only notifications), and the
    callbacks to run after sending them. ``encode`` makes the one JSON text of the frame; the
    connection drops the responses then, so that their big values do not outlive it."""

    responses: list[dict[str, Any]]
    batch: bool = False
    then: list[Callback] = field(default_factory=list)

    def encode(self) -> bytes | None:
        """The frame's UTF-8 JSON (a batch's responses as an array), or ``None`` for no reply."""
        if not self.responses:
            return None
        return dumps(self._message())

    def pieces(self) -> list[JsonText]:
        """``encode``'s JSON in pieces, a big ``RawJson`` one of its own (``dumps_pieces``);
        none for no reply."""
        return dumps_pieces(self._message()) if self.responses else []

    def _message(self) -> dict[str, Any] | list[dict[str, Any]]:
        return self.responses if self.batch else self.responses[0]

    @property
    def text(self) -> str | None:
        data = self.encode()
        return None if data is None else data.decode()


class CallObserver(Protocol[Token]):
    """Told of every request of a frame: ``started`` once its params are validated, before its
    handler runs, with the params keys the handler will not use (``ignored_fields``) and the
    frame it came in (its ``size`` bounds the params); ``finished`` with
    its outcome (the result unwrapped from ``AfterReply``) before the reply is sent. Whatever
    ``started`` returns is handed back to ``finished``. A request cancelled with its connection
    is never finished. Both must be cheap: they are on every call's path. One that raises is
    logged and the call answered all the same (without its ``finished``, if ``started`` raised)."""

    def started(self, request: Request, ignored: list[str], frame: Frame) -> Token: ...

    def finished(self, token: Token, result: Any, error: RpcError | None) -> None: ...


class MethodRouter:
    """Collects the methods of one API area under a common prefix (``service.``, ``exec.``)."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.methods: list[Method] = []

    def method(self, name: str) -> Callable[[Handler], Handler]:
        def register(handler: Handler) -> Handler:
            # The params model is the first parameter's annotation: a plain name, resolved in the
            # handler's module (other annotations may be TYPE_CHECKING-only and are not read).
            first = next(iter(inspect.signature(handler).parameters.values()))
            model = first.annotation
            if isinstance(model, str):
                model = getattr(handler, "__globals__", {}).get(model)
            if not (isinstance(model, type) and issubclass(model, BaseModel)):
                raise TypeError(f"{handler.__qualname__}: first parameter must be a pydantic model")
            self.methods.append(Method(f"{self.prefix}.{name}", model, handler))
            return handler

        return register


class Registry(Generic[Ctx]):
    """All methods the daemon answers, by full name."""

    def __init__(self, routers: Iterable[MethodRouter]) -> None:
        self._methods: dict[str, Method] = {}
        for router in routers:
            for method in router.methods:
                if method.name in self._methods:
                    raise ValueError(f"method {method.name} registered twice")
                self._methods[method.name] = method

    def __contains__(self, name: object) -> bool:
        return name in self._methods

    def names(self) -> list[str]:
        return sorted(self._methods)

    def get(self, name: str) -> Method | None:
        return self._methods.get(name)


def _describe_validation(method: str, exc: ValidationError) -> RpcError:
    problems = []
    details = []
    for err in exc.errors(include_url=False):
        where = ".".join(str(part) for part in err["loc"]) or "params"
        problems.append(f"{where}: {err['msg']}")
        details.append({"field": where, "message": err["msg"]})
    return RpcError(
        INVALID_PARAMS, f"invalid params for {method}: " + "; ".join(problems), {"errors": details}
    )


def ignored_fields(model: BaseModel, where: str = "") -> list[str]:
    """The dotted names of the keys a params model accepted and kept aside (``extra="allow"``:
    ``model_extra``), in its nested models too: what the call's handler did not use."""
    names = [f"{where}{key}" for key in model.__pydantic_extra__ or {}]
    for name in _nesting_fields(type(model)):
        value = getattr(model, name)
        if isinstance(value, BaseModel):
            names.extend(ignored_fields(value, f"{where}{name}."))
    return names


@functools.cache
def _nesting_fields(model: type[BaseModel]) -> tuple[str, ...]:
    """A params model's fields whose type names a model, asked once: pydantic's
    ``model_fields`` is a property that copies them, and looking at every field of a service
    call (none of which can hold a model) was most of ``ignored_fields``' 1.2 µs a call."""
    return tuple(name for name, field in model.model_fields.items() if _names_a_model(field.annotation))


def _names_a_model(annotation: Any) -> bool:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return True
    return any(_names_a_model(argument) for argument in typing.get_args(annotation))


def _parse(registry: Registry[Ctx], request: Request, big: bool) -> tuple[Method, BaseModel] | RpcError:
    """The request's method and its validated params; ``big`` when the frame was big enough for
    its params' long values to be kept as their texts (``parse_frame``)."""
    method = registry.get(request.method)
    if method is None:
        return RpcError(METHOD_NOT_FOUND, f"method not found: {request.method}")
    params = request.params or {}
    if isinstance(params, list):
        return RpcError(INVALID_PARAMS, f"invalid params for {request.method}: pass named params (an object)")
    if big:
        params = _values_unless_texts_wanted(method.params, params)
    try:
        return method, method.params.model_validate(params)
    except ValidationError as exc:
        return _describe_validation(request.method, exc)


def _values_unless_texts_wanted(model: type[BaseModel], params: dict[str, Any]) -> dict[str, Any]:
    """``params`` with each ``RawJson`` made its value, but in the fields the model names in
    ``json_text_fields`` (a handler that passes the text on as it came)."""
    wanted: frozenset[str] = getattr(model, "json_text_fields", frozenset())
    return {
        key: value.value() if type(value) is RawJson and key not in wanted else value
        for key, value in params.items()
    }


async def _call(method: Method, params: BaseModel, ctx: Ctx) -> tuple[Any, RpcError | None]:
    try:
        return await method.handler(params, ctx), None
    except BridgeError as exc:
        return None, RpcError(exc.code, exc.message, exc.data)
    except Exception:
        log.exception("internal error in %s", method.name)
        return None, RpcError(INTERNAL_ERROR, f"internal error in {method.name} (see the daemon log)")


async def _answer(
    registry: Registry[Ctx],
    item: Request | Invalid,
    ctx: Ctx,
    observer: CallObserver[Any] | None,
    frame: Frame,
) -> tuple[dict[str, Any] | None, Callback | None]:
    if isinstance(item, Invalid):
        return error_response(item.id, item.error), None
    parsed = _parse(registry, item, frame.size >= PIECE_FROM)
    if observer is not None:
        try:
            ignored = [] if isinstance(parsed, RpcError) else ignored_fields(parsed[1])
            token = observer.started(item, ignored, frame)
        except Exception:  # the inspector's failure must not leave the page's call unanswered
            log.exception("the call observer failed as %s started; answering it all the same", item.method)
            observer = None
    result: Any = None
    error: RpcError | None = parsed if isinstance(parsed, RpcError) else None
    if not isinstance(parsed, RpcError):
        result, error = await _call(*parsed, ctx)
    then = None
    if isinstance(result, AfterReply):
        result, then = result.result, result.then
    if observer is not None:
        try:
            observer.finished(token, result, error)
        except Exception:
            log.exception("the call observer failed as %s finished; answering it all the same", item.method)
    if item.notification:
        # A notification gets no reply, but what it started still runs.
        return None, then
    if error is not None:
        return error_response(item.id, error), None
    return result_response(item.id, result), then


def admit(frame: Frame, room: int, refusal: Callable[[], BridgeError]) -> tuple[Frame, int]:
    """The frame as it may run when its connection has ``room`` more calls: its first ``room``
    requests (notifications count: they run too) stay; each later one becomes an item answered
    with the error ``refusal()`` makes, or is dropped when it is a notification, which cannot be
    answered. Also returns how many requests stay, for the connection to count until the reply
    is sent."""
    if len(frame.items) <= room:  # the usual case: all of it runs
        return frame, sum(not isinstance(item, Invalid) for item in frame.items)
    made = refusal()
    error = RpcError(made.code, made.message, made.data)
    items: list[Request | Invalid] = []
    admitted = 0
    for item in frame.items:
        if isinstance(item, Invalid):
            items.append(item)
        elif admitted < room:
            items.append(item)
            admitted += 1
        elif not item.notification:
            items.append(Invalid(error, item.id))
    return Frame(items, frame.batch, frame.size, frame.text), admitted


def refuse(frame: Frame, error: BridgeError) -> Reply:
    """The reply to a frame none of whose requests runs: ``error`` for each request (invalid
    items get their own error; notifications, which cannot be answered, nothing)."""
    refused, _ = admit(frame, 0, lambda: error)
    responses = [error_response(item.id, item.error) for item in refused.items if isinstance(item, Invalid)]
    return Reply(responses, frame.batch)


async def dispatch(
    registry: Registry[Ctx], frame: Frame, ctx: Ctx, observer: CallObserver[Any] | None = None
) -> Reply:
    """Answer every item of a frame. Batch items run concurrently; the reply keeps their order."""
    if len(frame.items) == 1:
        answers = [await _answer(registry, frame.items[0], ctx, observer, frame)]
    else:
        answers = list(
            await asyncio.gather(*(_answer(registry, item, ctx, observer, frame) for item in frame.items))
        )
    responses = [response for response, _ in answers if response is not None]
    then = [callback for _, callback in answers if callback is not None]
    return Reply(responses, frame.batch, then)
