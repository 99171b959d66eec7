"""Test images with a Python interpreter, made without a registry.

Extension backends are often Python; the sample extension's is. With no registry to pull
``python:*-alpine`` from, the test base image is assembled from what this machine has: the files
of Debian's installed ``python3.X`` packages (``dpkg -L``), the shared libraries ``ldd`` reports
for the interpreter and its extension modules, and busybox-static's applets (``sh``, ``grep``,
``kill``... for the exec sweep and shell commands), all ``docker import``ed. It takes a couple of
seconds and about 25 MB, once per test session and engine.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import subprocess
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import pytest

from tests.support.dockerd import EngineMissing, EngineUnderTest, busybox_rootfs
from tests.support.processes import REPO

PYTHON = Path("/usr/bin/python3")
SAMPLE = REPO / "docker" / "sample-extension"
# The label ddbridge puts on every container of an extension's backend.
EXTENSION_LABEL = "ddbridge.extension"
# What the interpreter needs at run time; the rest (docs, man pages) only makes the image bigger.
_SKIPPED = ("/usr/share/",)


def _python_packages() -> tuple[str, list[str]]:
    """The interpreter's version (``3.11``) and the Debian packages holding its runtime."""
    if not PYTHON.exists():
        raise EngineMissing(f"no {PYTHON} (install Debian's python3-minimal)")
    version = re.fullmatch(r"python(3\.\d+)", PYTHON.resolve().name)
    if version is None:
        raise EngineMissing(f"{PYTHON} does not lead to a python3.X binary")
    number = version.group(1)
    return number, [f"python{number}-minimal", f"libpython{number}-minimal", f"libpython{number}-stdlib"]


def _package_files(packages: list[str]) -> list[Path]:
    listed = subprocess.run(["dpkg", "-L", *packages], capture_output=True, text=True, check=False)
    if listed.returncode != 0:
        raise EngineMissing(f"cannot list {' '.join(packages)}: {listed.stderr.strip()} (install them)")
    files = [Path(line) for line in listed.stdout.splitlines() if line.startswith("/")]
    return [
        path for path in files if not str(path).startswith(_SKIPPED) and (path.is_symlink() or path.is_file())
    ]


def _libraries(binaries: list[Path]) -> set[Path]:
    """The shared libraries (and the loader) ``ldd`` names for ``binaries``, as it names them."""
    found: set[Path] = set()
    for binary in binaries:
        output = subprocess.run(["ldd", str(binary)], capture_output=True, text=True, check=False).stdout
        for line in output.splitlines():
            match = re.search(r"(/\S+) \(0x", line)
            if match:
                found.add(Path(match.group(1)))
    return found


def _add_parents(tar: tarfile.TarFile, name: str, made: set[str]) -> None:
    for parent in reversed(PurePosixPath(name).parents[:-1]):
        if str(parent) not in made:
            made.add(str(parent))
            info = tarfile.TarInfo(str(parent))
            info.type, info.mode = tarfile.DIRTYPE, 0o755
            tar.addfile(info)


def python_rootfs() -> bytes:
    """A tar of a root filesystem with busybox and Debian's python3 as ``/usr/bin/python3``."""
    version, packages = _python_packages()
    files = [*_package_files(packages), PYTHON]
    modules = [path for path in files if path.suffix == ".so" and not path.is_symlink()]
    binaries = [path for path in files if path.name == f"python{version}" and not path.is_symlink()]
    buffer = io.BytesIO()
    with (
        tarfile.open(fileobj=io.BytesIO(busybox_rootfs())) as base,
        tarfile.open(fileobj=buffer, mode="w") as tar,
    ):
        made = set()
        for member in base.getmembers():
            tar.addfile(member, base.extractfile(member) if member.isfile() else None)
            if member.isdir():
                made.add(member.name)
        for path in files:
            name = str(path).lstrip("/")
            _add_parents(tar, name, made)
            tar.add(path, name, recursive=False)
        for library in sorted(_libraries(binaries + modules)):
            name = str(library).lstrip("/")
            _add_parents(tar, name, made)
            info = tar.gettarinfo(os.path.realpath(library), name)
            with open(library, "rb") as content:
                tar.addfile(info, content)
    return buffer.getvalue()


@dataclass(frozen=True)
class ExtensionImages:
    """Tags on the test engine: the python3 base image and the sample extension built on it."""

    python: str
    sample: str


def extension_images(engine: EngineUnderTest, purpose: str) -> Iterator[ExtensionImages]:
    """The body of a fixture: ``yield from extension_images(engine, "the ... tests")``.

    Builds docker/sample-extension (its UI bundle must be built already) on the python3 image and
    removes both afterwards. Without Debian's python3 packages the tests skip, saying what to
    install; under CI they fail instead.
    """
    images = ExtensionImages(
        f"ddbridge-test/python:{engine.token}", f"ddbridge-test/sample-extension:{engine.token}"
    )
    try:
        engine.docker("import", "-", images.python, input=python_rootfs(), timeout=120)
    except EngineMissing as exc:
        if os.environ.get("CI"):
            pytest.fail(f"{purpose} need a python3 image: {exc}", pytrace=False)
        pytest.skip(f"no python3 image for {purpose}: {exc}")
    try:
        engine.docker(
            "build", "--build-arg", f"BASE={images.python}", "-t", images.sample, str(SAMPLE), timeout=300
        )
        yield images
    finally:
        engine.docker("rmi", "-f", images.sample, images.python, check=False)


@contextlib.contextmanager
def copied_images(source: EngineUnderTest, target: EngineUnderTest, *tags: str) -> Iterator[None]:
    """``tags`` copied from ``source`` to ``target`` (``docker save | docker load``), removed
    from ``target`` after."""
    save = subprocess.Popen(
        ["docker", "save", *tags], env={**os.environ, "DOCKER_HOST": source.host}, stdout=subprocess.PIPE
    )
    try:
        load = subprocess.run(
            ["docker", "load", "-q"],
            stdin=save.stdout,
            env={**os.environ, "DOCKER_HOST": target.host},
            capture_output=True,
            timeout=120,
        )
    finally:
        assert save.stdout is not None
        save.stdout.close()
        saved = save.wait(120)
    try:
        if saved != 0 or load.returncode != 0:
            raise RuntimeError(f"copying {' '.join(tags)} failed: {load.stderr.decode(errors='replace')}")
        yield
    finally:
        target.docker("rmi", "-f", *tags, check=False)


def extension_containers(engine: EngineUnderTest, name: str) -> list[str]:
    """The ids of every container (running or not) a run of extension ``name`` started."""
    listed = engine.docker("ps", "-aq", "--no-trunc", "--filter", f"label={EXTENSION_LABEL}={name}")
    return listed.stdout.split()


def files_tar(files: dict[str, str | bytes], links: dict[str, str] | None = None) -> bytes:
    """A tar of ``files`` (path → content) and symbolic ``links`` (path → target)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for name, content in files.items():
            data = content.encode() if isinstance(content, str) else content
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), 0o755
            tar.addfile(info, io.BytesIO(data))
        for name, target in (links or {}).items():
            info = tarfile.TarInfo(name)
            info.type, info.linkname = tarfile.SYMTYPE, target
            tar.addfile(info)
    return buffer.getvalue()


def import_files(
    engine: EngineUnderTest, tag: str, files: dict[str, str | bytes], links: dict[str, str] | None = None
) -> str:
    """An image holding only ``files`` and ``links`` (no shell, no command), as ``tag``."""
    engine.docker("import", "-", tag, input=files_tar(files, links))
    return tag
