"""``docker.listContainers`` / ``docker.listImages``: the engine's JSON, options passed through."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets

from bridge.testing import BridgeClient, RpcFailure
from bridge.testing.launcher import RunningBridge
from tests.integration.docker.conftest import StartBridge
from tests.support.dockerd import LABEL, EngineUnderTest

pytestmark = [pytest.mark.integration, pytest.mark.engines("docker", "podman")]


@pytest.fixture(scope="module")
def exited(engine: EngineUnderTest) -> str:
    """A container that ran and stopped: listed with ``all`` only."""
    return engine.run_container("exited", "true", detach=False)


async def containers(client: BridgeClient, **options: Any) -> list[dict[str, Any]]:
    listed: list[dict[str, Any]] = await client.call("docker.listContainers", {"options": options})
    return listed


def names(listed: list[dict[str, Any]]) -> set[str]:
    return {name.lstrip("/") for container in listed for name in container["Names"]}


async def test_containers_are_the_engines_json(client: BridgeClient, engine: EngineUnderTest) -> None:
    listed = await client.call("docker.listContainers", {})
    (vm,) = [container for container in listed if f"/{engine.vm}" in container["Names"]]
    assert {"Id", "Names", "Image", "ImageID", "Command", "Created", "State", "Status", "Labels"} <= set(vm)
    assert vm["State"] == "running"
    assert vm["Labels"] == {LABEL: engine.token}
    assert vm["Image"] == engine.image


async def test_docker_engines_list_reaches_the_page_as_the_engine_wrote_it(
    shared_bridge: RunningBridge, engine: EngineUnderTest, exited: str
) -> None:
    # Its bytes, unparsed (key order and all), as ``GET /containers/json`` answers the same
    # query; the exited container's entry does not change between the two reads.
    if engine.kind != "docker":
        pytest.skip("Podman's lists are given Docker's shape, so they are parsed")
    if not engine.host.startswith("unix://"):
        pytest.skip(f"reads the engine's socket directly, and it is at {engine.host}")
    filters = {"name": [exited]}
    transport = httpx.AsyncHTTPTransport(uds=engine.host.removeprefix("unix://"))
    async with httpx.AsyncClient(transport=transport, base_url="http://engine") as direct:
        answer = await direct.get("/containers/json", params={"all": "1", "filters": json.dumps(filters)})
    body = answer.raise_for_status().text
    assert exited in body
    call = {"jsonrpc": "2.0", "id": 7, "method": "docker.listContainers"}
    async with websockets.connect(shared_bridge.ws_url, max_size=None) as ws:
        await ws.send(json.dumps({**call, "params": {"options": {"all": True, "filters": filters}}}))
        frame = await ws.recv()
    assert isinstance(frame, str)
    assert frame.startswith('{"jsonrpc":"2.0","id":7,"result":')
    assert frame[len('{"jsonrpc":"2.0","id":7,"result":') : -1] == body


async def test_the_lists_have_dockers_shape(
    client: BridgeClient, engine: EngineUnderTest, exited: str
) -> None:
    """Podman's lists too (bridge/podman.py): familiar image names, ``HostConfig`` and an object
    of ``Networks``, none of Podman's own keys."""
    labelled = await containers(client, all=True, filters={"label": [f"{LABEL}={engine.token}"]})
    # Other test files of this worker leave containers with the label too: these two are this file's.
    listed = [container for container in labelled if names([container]) & {exited, engine.vm}]
    assert names(listed) == {exited, engine.vm}
    for container in listed:
        assert container["Image"] == engine.image
        assert container["HostConfig"] == {"NetworkMode": "none"}
        assert isinstance(container["NetworkSettings"]["Networks"], dict)
        assert not {"Name", "Config", "NetworkingConfig", "Platform", "AdjustCPUShares"} & set(container)
    (image,) = await client.call("docker.listImages", {"options": {"filters": {"reference": [engine.image]}}})
    assert image["RepoTags"] == [engine.image]
    assert not {"Names", "Digest", "History"} & set(image)


async def test_all_limit_and_size(client: BridgeClient, engine: EngineUnderTest, exited: str) -> None:
    assert exited not in names(await containers(client))
    assert {exited, engine.vm} <= names(await containers(client, all=True))
    assert len(await containers(client, all=True, limit=1)) == 1
    sized = await containers(client, size=True, filters={"name": [engine.vm]})
    assert "SizeRootFs" in sized[0]


@pytest.mark.parametrize("form", ["string", "object", "single value"])
async def test_filters_as_string_or_object(
    client: BridgeClient, engine: EngineUnderTest, exited: str, form: str
) -> None:
    wanted = {"label": [f"{LABEL}={engine.token}"], "status": ["exited"]}
    filters: Any = {
        "string": json.dumps(wanted),
        "object": wanted,
        "single value": {key: values[0] for key, values in wanted.items()},
    }[form]
    assert names(await containers(client, all=True, filters=filters)) == {exited}


async def test_images(client: BridgeClient, engine: EngineUnderTest) -> None:
    listed = await client.call("docker.listImages", {})
    (image,) = [image for image in listed if engine.image in (image["RepoTags"] or [])]
    assert {"Id", "RepoTags", "Created", "Size", "Labels"} <= set(image)
    filtered = await client.call("docker.listImages", {"options": {"filters": {"reference": [engine.image]}}})
    assert [image["Id"] for image in filtered] == [image["Id"]]
    as_string = json.dumps({"reference": [engine.image]})
    both = await client.call(
        "docker.listImages", {"options": {"filters": as_string, "all": True, "digests": True}}
    )
    assert [image["Id"] for image in both] == [image["Id"]]
    assert "RepoDigests" in both[0]


async def test_docker_desktops_other_keys_are_ignored_and_noted(
    docker_bridge: StartBridge, engine: EngineUnderTest, exited: str
) -> None:
    """What published extensions pass (``format: "json"``, ``namespace``, the other list's keys):
    the call works as without them, and the inspector's call event names them."""
    running = docker_bridge()
    async with BridgeClient.connect(running.ws_url) as client:
        listed = await containers(client, all=True, format="json", namespace="default", digests=True)
        assert {exited, engine.vm} <= names(listed)
        images = await client.call("docker.listImages", {"options": {"format": "json", "size": True}})
        assert engine.image in {tag for image in images for tag in image["RepoTags"] or []}
        plain = await containers(client, all=True)
    assert names(plain) == names(listed)
    calls = [event for event in running.events() if event["kind"] == "call"]
    assert [(event["method"], event.get("ignored")) for event in calls] == [
        ("docker.listContainers", ["options.format", "options.namespace", "options.digests"]),
        ("docker.listImages", ["options.format", "options.size"]),
        ("docker.listContainers", None),
    ]


@pytest.mark.parametrize(
    ("method", "options", "field"),
    [
        ("docker.listContainers", {"all": "yes", "format": "json"}, "options.all"),
        ("docker.listContainers", {"size": 1}, "options.size"),
        ("docker.listContainers", {"limit": "many"}, "options.limit"),
        ("docker.listContainers", {"limit": -1}, "options.limit"),
        ("docker.listContainers", {"filters": "{not json"}, "options.filters"),
        ("docker.listContainers", {"filters": "[1, 2]"}, "options.filters"),
        ("docker.listContainers", {"filters": {"name": 3}}, "options.filters"),
        ("docker.listImages", {"digests": "true"}, "options.digests"),
        ("docker.listImages", {"all": "sometimes"}, "options.all"),
    ],
)
async def test_bad_options_name_the_field(
    client: BridgeClient, method: str, options: dict[str, Any], field: str
) -> None:
    with pytest.raises(RpcFailure) as failure:
        await client.call(method, {"options": options})
    assert failure.value.code == -32602
    assert field in failure.value.message
    assert any(error["field"].startswith(field) for error in failure.value.data["errors"])


async def test_filter_names_the_engine_refuses(client: BridgeClient) -> None:
    with pytest.raises(RpcFailure) as failure:
        await client.call("docker.listContainers", {"options": {"filters": {"colour": ["blue"]}}})
    assert failure.value.code == -32602
    assert "options.filters" in failure.value.message
    assert "colour" in failure.value.message
    assert failure.value.data["errors"][0]["field"] == "options.filters"


async def test_a_recording_keeps_the_engines_lists(
    docker_bridge: StartBridge, engine: EngineUnderTest, exited: str, tmp_path: Path
) -> None:
    # ``--record`` writes what the page got (on Docker, the engine's own text) as JSON.
    recording = tmp_path / "session.json"
    running = docker_bridge("--record", str(recording))
    options = {"all": True, "filters": {"name": [exited]}}
    async with BridgeClient.connect(running.ws_url) as client:
        listed = await containers(client, **options)
        reference = {"filters": {"reference": [engine.image]}}
        images = await client.call("docker.listImages", {"options": reference})
    assert names(listed) == {exited}
    script = json.loads(recording.read_text())
    assert script["docker"] == {"listContainers": listed, "listImages": images}
