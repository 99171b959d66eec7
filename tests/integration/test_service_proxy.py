"""service.request against a real backend (uvicorn) over a unix socket and over TCP."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
import websockets

from bridge.testing import BridgeClient, RpcFailure
from tests.support.processes import RunningBridge, free_port

pytestmark = pytest.mark.integration


@pytest.fixture(params=["unix", "tcp"])
async def client(
    request: pytest.FixtureRequest,
    bridge: Callable[..., RunningBridge],
    backend_socket: Path,
    backend_url: str,
) -> AsyncIterator[BridgeClient]:
    where = (
        ("--backend-socket", backend_socket) if request.param == "unix" else ("--backend-url", backend_url)
    )
    running = bridge(*where)
    async with BridgeClient.connect(running.ws_url) as connected:
        yield connected


async def service(client: BridgeClient, method: str, url: str, **extra: Any) -> Any:
    return await client.call("service.request", {"method": method, "url": url, **extra})


@pytest.mark.parametrize("verb", ["GET", "DELETE", "OPTIONS", "get"])
async def test_verbs_without_body(client: BridgeClient, verb: str) -> None:
    echoed = await service(client, verb, "/echo/path?x=1")
    assert echoed["method"] == verb.upper()
    assert echoed["path"] == "/echo/path"
    assert echoed["query"] == "x=1"


@pytest.mark.parametrize("verb", ["POST", "PUT", "PATCH"])
async def test_object_data_is_sent_as_json(client: BridgeClient, verb: str) -> None:
    echoed = await service(client, verb, "/echo", data={"name": "ddbridge", "n": [1, 2]})
    assert echoed["method"] == verb
    assert echoed["headers"]["content-type"] == "application/json"
    assert echoed["body"].replace(" ", "") == '{"name":"ddbridge","n":[1,2]}'


async def test_string_data_is_sent_as_is(client: BridgeClient) -> None:
    echoed = await service(client, "POST", "/echo", data="raw=text&a=b")
    assert echoed["body"] == "raw=text&a=b"
    assert echoed["headers"].get("content-type") != "application/json"


@pytest.mark.parametrize(
    "data",
    ["é" * (1 << 20), "x" * (1 << 20), 'a "quoted" line\n' * 70_000, {"items": ["x" * 1000] * 2000}],
    ids=["escaped", "plain", "quotes", "object"],
)
async def test_big_data_reaches_the_backend_whole(client: BridgeClient, data: object) -> None:
    """Past the size a request is written as its head then its body (``http1.JOIN_BELOW``), and
    a long value goes as the frame's text (``RawJson``): a string as its UTF-8, whether the
    client escaped it (the test client writes ``é`` as ``\\u00e9``) or not, an object as the
    JSON the client wrote (this one spaces it; a page's ``JSON.stringify`` does not)."""
    echoed = await service(client, "POST", "/echo", data=data)
    if isinstance(data, str):
        assert echoed["body"] == data
        assert echoed["headers"].get("content-type") != "application/json"
    else:
        assert json.loads(echoed["body"]) == data
        assert echoed["headers"]["content-type"] == "application/json"
    assert int(echoed["headers"]["content-length"]) == len(echoed["body"].encode())


async def test_headers_pass_through_and_win(client: BridgeClient) -> None:
    echoed = await service(
        client,
        "POST",
        "/echo",
        headers={"X-Custom": "yes", "Content-Type": "application/vnd.test+json"},
        data={"a": 1},
    )
    assert echoed["headers"]["x-custom"] == "yes"
    assert echoed["headers"]["content-type"] == "application/vnd.test+json"


async def test_head_returns_empty_text(client: BridgeClient) -> None:
    assert await service(client, "HEAD", "/echo") == ""


async def test_relative_url_without_slash(client: BridgeClient) -> None:
    assert (await service(client, "GET", "echo/x"))["path"] == "/echo/x"


async def test_text_body_is_returned_as_text(client: BridgeClient) -> None:
    assert await service(client, "GET", "/text") == "plain words, not JSON"


@pytest.mark.parametrize(
    ("code", "reason"), [(400, "Bad Request"), (404, "Not Found"), (500, "Internal Server Error")]
)
async def test_non_2xx_rejects_with_service_error(client: BridgeClient, code: int, reason: str) -> None:
    with pytest.raises(RpcFailure) as caught:
        await service(client, "GET", f"/status/{code}")
    assert caught.value.code == -32001
    assert caught.value.data == {"name": reason, "message": f"status {code} body", "statusCode": code}


async def test_2xx_other_than_200(client: BridgeClient) -> None:
    assert await service(client, "POST", "/status/201") == "status 201 body"


@pytest.mark.parametrize("url", ["http://example.com/x", "//example.com/x", "https://127.0.0.1/"])
async def test_absolute_urls_are_refused(client: BridgeClient, url: str) -> None:
    with pytest.raises(RpcFailure) as caught:
        await service(client, "GET", url)
    assert caught.value.code == -32003
    assert "absolute" in caught.value.message


async def test_bad_params_name_the_field(client: BridgeClient) -> None:
    with pytest.raises(RpcFailure) as caught:
        await client.call("service.request", {"method": "G ET", "url": "/echo"})
    assert caught.value.code == -32602
    assert "method" in caught.value.message


async def test_timeout_rejects_with_504(
    bridge: Callable[..., RunningBridge], backend_socket: Path, tmp_path: Path
) -> None:
    config = tmp_path / "fast.toml"
    config.write_text("[backend]\ntimeout = 0.5\n")
    running = bridge("--config", config, "--backend-socket", backend_socket)
    async with BridgeClient.connect(running.ws_url) as connected:
        with pytest.raises(RpcFailure) as caught:
            await service(connected, "GET", "/slow?seconds=3")
        assert caught.value.data["statusCode"] == 504
        assert "0.5 s" in caught.value.message
        # The bridge stays healthy: the next call works.
        assert await service(connected, "GET", "/text") == "plain words, not JSON"


async def test_unreachable_unix_backend_names_the_socket(
    bridge: Callable[..., RunningBridge], short_tmp: Path
) -> None:
    missing = short_tmp / "nobody-home.sock"
    running = bridge("--backend-socket", missing)
    async with BridgeClient.connect(running.ws_url) as connected:
        with pytest.raises(RpcFailure) as caught:
            await service(connected, "GET", "/echo")
    assert caught.value.data["statusCode"] == 502
    assert caught.value.data["name"] == "Bad Gateway"
    assert str(missing) in caught.value.message


async def test_unreachable_tcp_backend_names_the_url(bridge: Callable[..., RunningBridge]) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    running = bridge("--backend-url", url)
    async with BridgeClient.connect(running.ws_url) as connected:
        with pytest.raises(RpcFailure) as caught:
            await service(connected, "GET", "/echo")
    assert caught.value.data["statusCode"] == 502
    assert url in caught.value.message


async def test_no_backend_configured(bridge: Callable[..., RunningBridge]) -> None:
    running = bridge()
    async with BridgeClient.connect(running.ws_url) as connected:
        with pytest.raises(RpcFailure) as caught:
            await service(connected, "GET", "/echo")
    assert caught.value.code == -32007
    assert "--backend-socket" in caught.value.message


async def test_concurrent_calls_on_one_connection(client: BridgeClient) -> None:
    import asyncio

    results = await asyncio.gather(*(service(client, "GET", f"/echo/{i}") for i in range(50)))
    assert [result["path"] for result in results] == [f"/echo/{i}" for i in range(50)]


@pytest.mark.parametrize("url", ["/../text", "/a/../../text", "../text", "/./../text"])
async def test_dot_segments_stay_below_the_base_path(
    bridge: Callable[..., RunningBridge], backend_url: str, url: str
) -> None:
    """With ``--backend-url .../echo/``, ``/text`` beside the base is out of reach: the echo
    below the base answers instead."""
    running = bridge("--backend-url", f"{backend_url}/echo/")
    async with BridgeClient.connect(running.ws_url) as connected:
        echoed = await service(connected, "GET", url)
    assert echoed["path"] == "/echo/text"


@pytest.mark.parametrize("url", ["/%2e%2e/text", "/%2E./text", "/..%2ftext", "/..\\text", "/..;/text"])
async def test_dot_segments_in_disguise_are_refused(
    bridge: Callable[..., RunningBridge], backend_url: str, url: str
) -> None:
    running = bridge("--backend-url", f"{backend_url}/echo/")
    async with BridgeClient.connect(running.ws_url) as connected:
        with pytest.raises(RpcFailure) as caught:
            await service(connected, "GET", url)
    assert caught.value.code == -32602
    assert "dot segment in disguise" in caught.value.message and "/echo/" in caught.value.message


async def test_the_host_header_is_the_backends(client: BridgeClient) -> None:
    echoed = await service(client, "GET", "/echo", headers={"Host": "admin.internal", "X-A": "1"})
    assert echoed["headers"]["host"] != "admin.internal" and echoed["headers"]["x-a"] == "1"


async def test_connect_is_refused(client: BridgeClient) -> None:
    with pytest.raises(RpcFailure) as caught:
        await service(client, "CONNECT", "/echo")
    assert caught.value.code == -32602 and "tunnel" in caught.value.message


REFLECTED = '{"b": 1, "a": [1.0, 2e3, 18446744073709551615], "s": "\u00e9\\n"}'


async def test_a_json_answer_goes_to_the_page_as_the_backend_wrote_it(
    bridge: Callable[..., RunningBridge], backend_socket: Path
) -> None:
    # Its bytes, unparsed: key order, spacing and number forms as the backend wrote them; also
    # when the reply is encoded by the stdlib (an id past 64 bits) and in a batch.
    running = bridge("--backend-socket", backend_socket)
    call = {
        "jsonrpc": "2.0",
        "method": "service.request",
        "params": {"method": "POST", "url": "/reflect", "data": REFLECTED},
    }
    async with websockets.connect(running.ws_url, max_size=None) as ws:
        for request_id in (1, 2**70):
            await ws.send(json.dumps({**call, "id": request_id}))
            frame = await ws.recv()
            assert isinstance(frame, str) and f'"result":{REFLECTED}' in frame
            assert json.loads(frame) == {"jsonrpc": "2.0", "id": request_id, "result": json.loads(REFLECTED)}
        await ws.send(
            json.dumps([{**call, "id": 3}, {**call, "id": 4, "params": {**call["params"], "data": "[1,"}}])
        )
        answers = json.loads(await ws.recv())
        assert [answer["result"] for answer in answers] == [json.loads(REFLECTED), "[1,"]


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("\ufeff[1, 2]", [1, 2]),  # a byte order mark: parsed, as before
        ("NaN", None),  # the stdlib's word, sent as null
        ('"\\ud800"', "\ud800"),  # a lone surrogate, escaped in the frame
        ("{not json", "{not json"),
    ],
)
async def test_answers_that_are_not_strict_json_still_reach_the_page(
    client: BridgeClient, body: str, expected: Any
) -> None:
    assert await service(client, "POST", "/reflect", data=body) == expected


BIG = 3 << 20  # past bridge.buffers.OWN_MAPPING_FROM: such an answer is read into a mapping


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("[" + "1," * (BIG // 2) + "1]", [1] * (BIG // 2 + 1)),
        ('"' + "é" * (BIG // 2) + '"', "é" * (BIG // 2)),
        ("\ufeff[" + "2," * (BIG // 2) + "2]", [2] * (BIG // 2 + 1)),
        ('"\\ud800' + "s" * BIG + '"', "\ud800" + "s" * BIG),
        ("{not json " + "é" * (BIG // 2), "{not json " + "é" * (BIG // 2)),
    ],
    ids=["json", "json-not-ascii", "byte-order-mark", "lone-surrogate", "text"],
)
async def test_big_answers_of_each_kind_reach_the_page(
    client: BridgeClient, body: str, expected: Any
) -> None:
    """The answers above, and strict JSON, each past the size from which the daemon reads an
    answer into a buffer of its own: they come to the page as the small ones do."""
    assert await service(client, "POST", "/reflect", data=body) == expected
