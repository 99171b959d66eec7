"""Docker engines on ``tcp://`` for the engine-choice tests, and the TLS certificates they need.

``tcp_engine(tls=True)``: a private dockerd (``tests/support/dockerd.py``) that also listens on
``tcp://127.0.0.1:PORT`` with ``--tlsverify``, so a client must verify it against the test CA and
present a certificate that CA signed; ``tcp_engine(tls=False)``: one on ``tcp://127.0.0.1:PORT``
without TLS. Both keep their unix socket, through which the fixture prepares them (the test image,
the "vm" container) and ``EngineUnderTest.docker`` talks to them. Certificates are made with
``openssl`` (Debian's openssl package), EC keys, in a second.
"""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from bridge.testing import free_port
from tests.support.dockerd import (
    EngineMissing,
    EngineUnderTest,
    PrivateDockerd,
    prepared_engine,
    running_engine,
)

_KEY = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]


@dataclass(frozen=True)
class Certificates:
    """A test CA, the engine's certificate for 127.0.0.1 and localhost, and client folders as
    ``DOCKER_CERT_PATH`` wants them (``ca.pem``, ``cert.pem``, ``key.pem``)."""

    root: Path

    @property
    def client(self) -> Path:
        """The right CA, and a client certificate it signed."""
        return self.root / "client"

    @property
    def wrong_ca(self) -> Path:
        """The client's certificate, but a CA that did not sign the engine's."""
        return self.root / "wrong-ca"

    @property
    def no_client_cert(self) -> Path:
        """The right CA and no client certificate."""
        return self.root / "no-cert"

    @property
    def server(self) -> tuple[Path, Path, Path]:
        """The engine's ``--tlscacert``, ``--tlscert`` and ``--tlskey``."""
        return self.root / "ca.pem", self.root / "server-cert.pem", self.root / "server-key.pem"


def _openssl(*args: str | Path, cwd: Path) -> None:
    result = subprocess.run(["openssl", *map(str, args)], cwd=cwd, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"openssl {' '.join(map(str, args))} failed: {result.stderr.strip()}")


def _self_signed(folder: Path, name: str) -> None:
    _openssl(
        "req",
        "-x509",
        *_KEY,
        "-keyout",
        "ca-key.pem",
        "-out",
        "ca.pem",
        "-subj",
        f"/CN={name}",
        "-days",
        "2",
        cwd=folder,
    )


def _signed(folder: Path, prefix: str, subject: str, extensions: str) -> None:
    """``{prefix}cert.pem`` and ``{prefix}key.pem``, signed by ``folder``'s CA."""
    (folder / f"{prefix}ext.cnf").write_text(extensions)
    _openssl(
        "req",
        *_KEY,
        "-keyout",
        f"{prefix}key.pem",
        "-out",
        f"{prefix}csr.pem",
        "-subj",
        f"/CN={subject}",
        cwd=folder,
    )
    _openssl(
        "x509", "-req", "-in", f"{prefix}csr.pem", "-CA", "ca.pem", "-CAkey", "ca-key.pem", "-CAcreateserial",
        "-out", f"{prefix}cert.pem", "-days", "2", "-extfile", f"{prefix}ext.cnf", cwd=folder,
    )  # fmt: skip


def make_certificates(root: Path) -> Certificates:
    if shutil.which("openssl") is None:
        raise EngineMissing("no openssl on PATH (install Debian's openssl)")
    made = Certificates(root)
    _self_signed(root, "ddbridge test CA")
    _signed(
        root,
        "server-",
        "localhost",
        "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n",
    )
    _signed(root, "", "ddbridge test client", "extendedKeyUsage=clientAuth\n")
    for folder in (made.client, made.wrong_ca, made.no_client_cert):
        folder.mkdir()
    for name in ("ca.pem", "cert.pem", "key.pem"):
        shutil.copy(root / name, made.client / name)
    shutil.copy(root / "ca.pem", made.no_client_cert / "ca.pem")
    _self_signed(made.wrong_ca, "another CA")
    for name in ("cert.pem", "key.pem"):
        shutil.copy(root / name, made.wrong_ca / name)
    return made


@dataclass(frozen=True)
class TcpEngine:
    """A private engine reached over ``host`` (``tcp://127.0.0.1:PORT``); ``engine`` is the same
    dockerd through its unix socket, for the tests' own docker commands."""

    host: str
    engine: EngineUnderTest
    certificates: Certificates | None


@contextlib.contextmanager
def tcp_engine(*, tls: bool) -> Iterator[TcpEngine]:
    """A private dockerd on ``tcp://127.0.0.1:PORT`` (``--tlsverify`` with ``tls``), stopped and
    removed with its certificates at the end."""
    with tempfile.TemporaryDirectory(prefix="ddbt-", dir="/tmp") as folder:
        certificates = make_certificates(Path(folder)) if tls else None
        host = f"tcp://127.0.0.1:{free_port()}"
        flags = []
        if certificates is not None:
            ca, cert, key = certificates.server
            flags = ["--tlsverify", f"--tlscacert={ca}", f"--tlscert={cert}", f"--tlskey={key}"]
        dockerd = PrivateDockerd(
            Path(tempfile.mkdtemp(prefix="ddbd-", dir="/tmp")), hosts=[host], flags=flags
        )
        with running_engine(dockerd), prepared_engine(dockerd.host, dockerd) as engine:
            yield TcpEngine(host, engine, certificates)
