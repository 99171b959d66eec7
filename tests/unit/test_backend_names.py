"""Docker Desktop's compose project name for an extension's backend, from its image name."""

from __future__ import annotations

from pathlib import Path

import pytest

from bridge.extension.docker_backend import project_name
from bridge.extension.metadata import parse_metadata
from bridge.extension.model import Extension

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
