"""The stand-in Docker pages over HTTP: one shell page with the shim first in ``<head>`` for every
view, its assets (among them dom.js, the helpers shared with the host's page), 404 for the rest,
and the daemon's Host check in front of them."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import httpx
import pytest

from tests.support.processes import RunningBridge

pytestmark = pytest.mark.integration

VIEWS = [
    "containers",
    "containers/3f4e",
    "containers/3f4e/logs",
    "containers/3f4e/inspect",
    "containers/3f4e/stats",
    "containers/3f4e/terminal",
    "images",
    "images/sha256:ab12",
    "volumes",
    "volumes/data",
]


@pytest.fixture(scope="module")
def http(module_bridge: Callable[..., RunningBridge]) -> Iterator[httpx.Client]:
    running = module_bridge()
    with httpx.Client(base_url=running.url, headers=running.headers) as client:
        yield client


@pytest.mark.parametrize("view", VIEWS)
def test_every_view_is_the_shell_with_the_shim(http: httpx.Client, view: str) -> None:
    response = http.get(f"_ddbridge/docker/{view}?tag=latest")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    head = response.text.split("<head>", 1)[1]
    assert head.startswith('<script src="/ddclient.js"></script>'), "the shim runs before the page's script"
    shared = '<script src="/_ddbridge/docker-pages/dom.js" defer></script>'
    assert f'{shared}\n<script src="/_ddbridge/docker-pages/app.js" defer></script>' in head, "dom.js first"
    assert "default-src 'self'" in response.headers["content-security-policy"]


@pytest.mark.parametrize(
    "path",
    [
        "docker/",
        "docker/dashboard",
        "docker/containers/a/b",
        "docker/containers/a/terminalx",
        "docker/images/a/b",
        "docker-pages/x.js",
    ],
)
def test_anything_else_is_not_found(http: httpx.Client, path: str) -> None:
    assert http.get(f"_ddbridge/{path}").status_code == 404


@pytest.mark.parametrize(
    ("name", "media_type"),
    [("app.js", "text/javascript"), ("dom.js", "text/javascript"), ("style.css", "text/css")],
)
def test_assets(http: httpx.Client, name: str, media_type: str) -> None:
    response = http.get(f"_ddbridge/docker-pages/{name}")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith(media_type)


def test_the_host_check_applies(http: httpx.Client) -> None:
    response = http.get("_ddbridge/docker/containers", headers={"Host": "evil.example"})
    assert response.status_code == 403


def test_the_pages_need_the_token(http: httpx.Client) -> None:
    response = httpx.get(f"{http.base_url}_ddbridge/docker/containers")
    assert response.status_code == 401
