"""A private nginx on a unix socket serving a small JSON body: the fast backend of the service
benchmark, fast enough that what is measured is the bridge (or the direct client), not it. It
also serves ``/big`` (``BIG_SIZE`` bytes of JSON) and takes uploads at ``/upload``, and listens
on a loopback TCP port with CORS allowed, for the browser's own ``fetch()`` baseline.

Everything lives in a temporary folder (config, socket, pid, logs, temp paths), it runs in the
foreground (``daemon off``) as our child, and nothing under /etc or /var is touched.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

from bridge.testing.launcher import free_port

BODY = '{"status":"ok","items":[1,2,3],"message":"hello from nginx"}'
BIG_SIZE = 16 * 1024 * 1024

_CONFIG = """\
worker_processes 1;
daemon off;
pid {root}/nginx.pid;
error_log {root}/error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    client_body_temp_path {root}/body;
    proxy_temp_path {root}/proxy;
    fastcgi_temp_path {root}/fastcgi;
    uwsgi_temp_path {root}/uwsgi;
    scgi_temp_path {root}/scgi;
    keepalive_requests 1000000;
    keepalive_timeout 300s;
    client_max_body_size 64m;
    client_body_buffer_size 64m;
    server {{
        listen unix:{socket};
        listen 127.0.0.1:{port};
        add_header Access-Control-Allow-Origin * always;
        location / {{
            default_type application/json;
            return 200 '{body}';
        }}
        location = /big {{
            default_type application/json;
            alias {root}/big.json;
        }}
        # An upload is read whole before it is answered, as a backend that uses it does (a
        # `return` answers first and reads the body afterwards, while the client still
        # writes it): the mirror reads the body; the POST to a file is then a 405, answered
        # with the file's JSON.
        location = /upload {{
            default_type application/json;
            alias {root}/uploaded.json;
            mirror /read-body;
            mirror_request_body on;
            error_page 405 =200 /uploaded.json;
        }}
        location = /read-body {{
            internal;
            return 204;
        }}
        location = /uploaded.json {{
            internal;
            default_type application/json;
            alias {root}/uploaded.json;
        }}
    }}
}}
"""


def big_json(size: int) -> str:
    """A JSON array of short objects, ``size`` characters long (ASCII: as many bytes)."""
    item = '{"id":1%06d,"name":"item","tags":["a","b"],"ok":true}'  # ids of 7 digits, no leading 0
    count = (size - 2) // (len(item % 0) + 1)
    text = "[" + ",".join(item % (index % 1_000_000) for index in range(count)) + "]"
    return text[:-1] + " " * (size - len(text)) + "]"


class NginxMissing(Exception):
    """nginx is not installed and could not be installed here: the message says what to do."""


def nginx_binary() -> str:
    """nginx's path, installing Debian's ``nginx-light`` first when it is missing and we are root."""
    found = shutil.which("nginx") or (os.path.exists("/usr/sbin/nginx") and "/usr/sbin/nginx")
    if found:
        return found
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        raise NginxMissing("nginx is not installed: apt-get install nginx-light (needs root)")
    print("installing nginx-light (apt-get) for the service benchmark…", flush=True)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    # Debian's package starts a system nginx on port 80; policy-rc.d is not ours to change, so
    # the system service is simply stopped again right after.
    subprocess.run(["apt-get", "install", "-y", "-q", "nginx-light"], env=env, check=False)
    subprocess.run(["service", "nginx", "stop"], capture_output=True, check=False)
    found = shutil.which("nginx") or (os.path.exists("/usr/sbin/nginx") and "/usr/sbin/nginx")
    if not found:
        raise NginxMissing("apt-get install nginx-light failed: install nginx by hand")
    return found


class PrivateNginx:
    """nginx serving ``BODY`` on ``root/nginx.sock``; ``start`` waits until it answers."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.socket = root / "nginx.sock"
        self.port = free_port()
        self._process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 10) -> None:
        binary = nginx_binary()
        for folder in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
            (self.root / folder).mkdir(exist_ok=True)
        config = self.root / "nginx.conf"
        config.write_text(_CONFIG.format(root=self.root, socket=self.socket, port=self.port, body=BODY))
        big = self.root / "big.json"
        big.write_text(big_json(BIG_SIZE))
        (self.root / "uploaded.json").write_text(BODY)
        # nginx's worker runs as nobody when we are root: it must be able to read the file.
        big.chmod(0o644)
        self.root.chmod(self.root.stat().st_mode | 0o711)
        # -e: the error log before the config is read (else nginx opens /var/log/nginx/error.log).
        self._process = subprocess.Popen(
            [binary, "-p", str(self.root), "-c", str(config), "-e", str(self.root / "error.log")],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while not self._answers():
            if self._process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                log = (self.root / "error.log").read_text(errors="replace")[-2000:]
                raise RuntimeError(f"nginx did not come up within {timeout} s; its log:\n{log}")
            time.sleep(0.02)

    def _answers(self) -> bool:
        try:
            with socket.socket(socket.AF_UNIX) as probe:
                probe.settimeout(1)
                probe.connect(str(self.socket))
                probe.sendall(b"GET / HTTP/1.0\r\nHost: x\r\n\r\n")
                return probe.recv(64).startswith(b"HTTP/1.1 200")
        except OSError:
            return False

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGQUIT)  # graceful: the master stops its worker too
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
