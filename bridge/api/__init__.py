"""The daemon's JSON-RPC methods, one module per ddClient area (see docs/protocol.md)."""
