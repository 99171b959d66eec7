"""Docker Desktop's names for an extension's backend, and the note on an engine elsewhere than its socket."""

from __future__ import annotations

from pathlib import Path

import pytest

from bridge.extension.docker_backend import project_name
from bridge.extension.metadata import parse_metadata
from bridge.extension.model import Extension
from bridge.extension.session import engine_socket_note

EXTENSION = Extension(Path("/nowhere/my-ext"), parse_metadata("{}"))


@pytest.mark.parametrize(
    ("image", "project"),
    [
        # The two names published extensions hard-code (issue 13).
        (
            "localstack/localstack-docker-desktop:0.5.3",
            "localstack_localstack-docker-desktop-desktop-extension",
        ),
        ("mrtrilb/gh-runner:latest", "mrtrilb_gh-runner-desktop-extension"),
        ("mrtrilb/gh-runner", "mrtrilb_gh-runner-desktop-extension"),
        (
            "docker/volumes-backup-extension@sha256:" + "a" * 64,
            "docker_volumes-backup-extension-desktop-extension",
        ),
        # What compose refuses in a project name (., :port, upper case) becomes _ or lower case.
        ("localhost:5000/Team/ext:1", "localhost_5000_team_ext-desktop-extension"),
        ("ghcr.io/org/ext.v2:1.0", "ghcr_io_org_ext_v2-desktop-extension"),
        # No repository: the extension's own name.
        ("sha256:" + "b" * 64, "my-ext-desktop-extension"),
        ("b" * 64, "my-ext-desktop-extension"),
        ("", "my-ext-desktop-extension"),
    ],
)
def test_project_name_is_docker_desktops(image: str, project: str) -> None:
    assert project_name(EXTENSION, image) == project


@pytest.mark.parametrize(
    "host", ["unix:///var/run/docker.sock", "unix:///run/docker.sock", "unix:///var/run/../run/docker.sock"]
)
def test_the_desktop_socket_needs_no_note_even_when_no_engine_is_there(host: str) -> None:
    assert engine_socket_note(host) is None


@pytest.mark.parametrize(
    ("host", "where"),
    [
        ("unix:///tmp/private/docker.sock", "is at /tmp/private/docker.sock, not /var/run/docker.sock: "),
        ("unix:///var/run/docker.sock.raw", "is at /var/run/docker.sock.raw, not /var/run/docker.sock: "),
        ("tcp://10.0.0.5:2376", "is at tcp://10.0.0.5:2376, whose machine may have no engine at /var/run"),
    ],
)
def test_another_engine_is_named_with_what_to_do(host: str, where: str) -> None:
    note = engine_socket_note(host)
    assert note is not None and where in note
    assert note.endswith(
        "serve them from an engine listening at unix:///var/run/docker.sock (--docker-host, or dockerd -H)"
    )
