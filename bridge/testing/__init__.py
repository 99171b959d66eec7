"""Helpers for testing extension UIs and the bridge itself: a launcher for the real daemon, Python
clients of its RPC, and the pytest plugin (``bridge.testing.plugin``, registered as ``ddbridge``)."""

from bridge.testing.client import BridgeClient, RpcFailure, StreamResult
from bridge.testing.launcher import (
    BridgeStartError,
    Call,
    RunningBridge,
    free_port,
    running_bridge,
    start_bridge,
)
from bridge.testing.sync import SyncBridgeClient

__all__ = [
    "BridgeClient",
    "BridgeStartError",
    "Call",
    "RpcFailure",
    "RunningBridge",
    "StreamResult",
    "SyncBridgeClient",
    "free_port",
    "running_bridge",
    "start_bridge",
]
