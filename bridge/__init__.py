"""ddbridge: the Docker Desktop extension client API (``window.ddClient``) in a plain browser.

The daemon serves a shim (``/ddclient.js``) that defines ``window.ddClient`` and speaks JSON-RPC
2.0 over one WebSocket (``/rpc``) to this process, which proxies service calls to the extension
backend, runs host binaries and containers' processes, and talks to the Docker engine.
"""

from bridge.deferred import defer

defer("aiodocker", "aiohttp", "yaml")

__version__ = "0.1.0"

__all__ = ["__version__"]
