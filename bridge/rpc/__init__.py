"""JSON-RPC 2.0 for the bridge: framing, validation and dispatch, with no I/O.

The connection layer (``bridge.connection``) feeds text frames in and sends the text that comes
out; everything here can be exercised with plain strings.
"""

from bridge.rpc.dispatch import AfterReply, CallObserver, MethodRouter, Registry, Reply, dispatch
from bridge.rpc.protocol import (
    Frame,
    Invalid,
    JsonText,
    RawJson,
    Request,
    RpcError,
    dumps,
    dumps_pieces,
    encode,
    error_response,
    loads,
    notification,
    parse_frame,
    plain,
    raw_json,
    result_response,
)

__all__ = [
    "AfterReply",
    "CallObserver",
    "Frame",
    "Invalid",
    "JsonText",
    "MethodRouter",
    "RawJson",
    "Registry",
    "Reply",
    "Request",
    "RpcError",
    "dispatch",
    "dumps",
    "dumps_pieces",
    "encode",
    "error_response",
    "loads",
    "notification",
    "parse_frame",
    "plain",
    "raw_json",
    "result_response",
]
