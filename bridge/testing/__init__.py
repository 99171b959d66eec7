"""Helpers for testing extension UIs and the bridge itself: a Python client of the RPC."""

from bridge.testing.client import BridgeClient, RpcFailure, StreamResult

__all__ = ["BridgeClient", "RpcFailure", "StreamResult"]
