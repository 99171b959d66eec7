"""Backend HTTP calls from the bundled client (v0 ``backend.*`` and v1 ``extension.vm.service.*``)
through the daemon to the real test backend, on a unix socket and on TCP."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.browser.helpers import ClientPage
from tests.support.processes import RunningBridge

pytestmark = pytest.mark.browser

SERVICES = {"v1": "extension.vm.service", "v0": "backend"}


@pytest.fixture(scope="module", params=["unix-socket", "tcp"])
def service_bridge(
    request: pytest.FixtureRequest,
    module_bridge: Callable[..., RunningBridge],
    test_page_build: Path,
    backend_socket: Path,
    backend_url: str,
) -> RunningBridge:
    if request.param == "unix-socket":
        return module_bridge("--ui", test_page_build, "--backend-socket", backend_socket)
    return module_bridge("--ui", test_page_build, "--backend-url", backend_url)


@pytest.fixture(params=list(SERVICES))
def api(request: pytest.FixtureRequest) -> str:
    """The dotted path of the HTTP service in the client, v1 or v0."""
    return SERVICES[request.param]


@pytest.fixture
def page(shared_page: Callable[..., ClientPage], service_bridge: RunningBridge) -> ClientPage:
    return shared_page(service_bridge.login_url())


def test_get_returns_the_json_body_parsed(page: ClientPage, api: str) -> None:
    echoed = page.value(f"{api}.get", "/echo/items?limit=2")
    assert echoed["method"] == "GET"
    assert echoed["path"] == "/echo/items"
    assert echoed["query"] == "limit=2"
    assert echoed["body"] == ""


def test_text_body_comes_back_as_text(page: ClientPage, api: str) -> None:
    assert page.value(f"{api}.get", "/text") == "plain words, not JSON"


@pytest.mark.parametrize("verb", ["post", "put", "patch"])
def test_object_data_is_sent_as_json(page: ClientPage, api: str, verb: str) -> None:
    data = {"name": "café", "count": 3, "tags": ["a", "b"], "nested": {"ok": True}}
    echoed = page.value(f"{api}.{verb}", "/echo", data)
    assert echoed["method"] == verb.upper()
    assert echoed["headers"]["content-type"] == "application/json"
    assert json.loads(echoed["body"]) == data


@pytest.mark.parametrize("verb", ["post", "put", "patch"])
def test_string_data_is_sent_as_is(page: ClientPage, api: str, verb: str) -> None:
    echoed = page.value(f"{api}.{verb}", "/echo", "raw text, {not json}")
    assert echoed["method"] == verb.upper()
    assert echoed["body"] == "raw text, {not json}"
    assert echoed["headers"].get("content-type") != "application/json"


def test_delete(page: ClientPage, api: str) -> None:
    echoed = page.value(f"{api}.delete", "/echo/items/7")
    assert (echoed["method"], echoed["path"]) == ("DELETE", "/echo/items/7")


def test_head_resolves_with_an_empty_body(page: ClientPage, api: str) -> None:
    assert page.value(f"{api}.head", "/echo") == ""


def test_request_sends_method_headers_and_data(page: ClientPage, api: str) -> None:
    echoed = page.value(
        f"{api}.request",
        {
            "method": "POST",
            "url": "/echo/custom",
            "headers": {"X-Test-Header": "yes", "Authorization": "Bearer t0ken"},
            "data": {"via": "request"},
        },
    )
    assert echoed["method"] == "POST"
    assert echoed["path"] == "/echo/custom"
    assert echoed["headers"]["x-test-header"] == "yes"
    assert echoed["headers"]["authorization"] == "Bearer t0ken"
    assert echoed["headers"]["content-type"] == "application/json"
    assert json.loads(echoed["body"]) == {"via": "request"}


def test_request_with_a_lowercase_method_and_string_data(page: ClientPage, api: str) -> None:
    echoed = page.value(
        f"{api}.request",
        {"method": "put", "url": "/echo", "headers": {"Content-Type": "text/plain"}, "data": "line"},
    )
    assert echoed["method"] == "PUT"
    assert echoed["headers"]["content-type"] == "text/plain"
    assert echoed["body"] == "line"


@pytest.mark.parametrize(
    ("code", "reason"),
    [(400, "Bad Request"), (404, "Not Found"), (418, "I'm a Teapot"), (500, "Internal Server Error")],
)
def test_non_2xx_rejects_with_a_service_error(page: ClientPage, api: str, code: int, reason: str) -> None:
    error = page.error(f"{api}.get", f"/status/{code}")
    assert error["isError"], "a ServiceError is an Error"
    assert error["name"] == reason
    assert error["message"] == f"status {code} body"
    assert error["statusCode"] == code


def test_non_2xx_of_a_post_rejects_too(page: ClientPage, api: str) -> None:
    error = page.error(f"{api}.post", "/status/409", {"conflict": True})
    assert (error["name"], error["message"], error["statusCode"]) == ("Conflict", "status 409 body", 409)


def test_concurrent_calls_each_get_their_answer(page: ClientPage, api: str) -> None:
    paths: list[str] = page.page.evaluate(
        """async (api) => {
            const service = api.split(".").reduce((o, k) => o[k], window.testApi.client);
            const all = await Promise.all(
                Array.from({length: 20}, (_, i) => service.get(`/echo/n${i}`)));
            return all.map((echoed) => echoed.path);
        }""",
        api,
    )
    assert paths == [f"/echo/n{i}" for i in range(20)]


@pytest.mark.parametrize("api", list(SERVICES.values()))
def test_unreachable_backend_rejects_with_502(
    api: str,
    bridge: Callable[..., RunningBridge],
    open_page: Callable[..., ClientPage],
    test_page_build: Path,
    short_tmp: Path,
) -> None:
    missing = short_tmp / "nobody-listens.sock"
    page = open_page(bridge("--ui", test_page_build, "--backend-socket", missing).login_url())
    error = page.error(f"{api}.get", "/hello")
    assert error["isError"]
    assert error["statusCode"] == 502
    assert error["name"] == "Bad Gateway"
    assert str(missing) in error["message"]
