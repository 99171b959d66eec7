"""``desktop.navigate`` on a real engine: every target resolves to its stand-in page's URL when the
object exists, and rejects naming it when it does not (Docker Desktop's documented behaviour)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bridge.testing import BridgeClient, RpcFailure
from tests.integration.docker.conftest import StartBridge
from tests.integration.test_inspector import inspector, kind_is
from tests.support.dockerd import EngineUnderTest

pytestmark = [pytest.mark.integration, pytest.mark.engines("docker", "podman")]

PAGES = "/_ddbridge/docker"


@pytest.fixture(scope="module")
def volume(engine: EngineUnderTest) -> Iterator[str]:
    name = f"ddbridge-test-nav-{engine.token}"
    engine.docker("volume", "create", name)
    yield name
    engine.docker("volume", "rm", "-f", name, check=False)


def inspected(engine: EngineUnderTest, kind: str, name: str) -> str:
    return engine.docker(kind, "inspect", "-f", "{{.Id}}", name).stdout.strip()


async def navigate(client: BridgeClient, **params: Any) -> str:
    result = await client.call("desktop.navigate", params)
    assert set(result) == {"url"}
    url: str = result["url"]
    return url


@pytest.mark.parametrize(
    ("target", "suffix"),
    [
        ("container", ""),
        ("containerLogs", "/logs"),
        ("containerInspect", "/inspect"),
        ("containerStats", "/stats"),
        ("containerTerminal", "/terminal"),
    ],
)
async def test_container_targets_resolve_to_the_full_id(
    client: BridgeClient, engine: EngineUnderTest, target: str, suffix: str
) -> None:
    full_id = inspected(engine, "container", engine.vm)
    expected = f"{PAGES}/containers/{full_id}{suffix}"
    assert await navigate(client, target=target, id=full_id) == expected
    assert await navigate(client, target=target, id=engine.vm) == expected, "a name resolves too"
    assert await navigate(client, target=target, id=full_id[:12]) == expected, "and a short id"


@pytest.mark.parametrize("target", ["containers", "images", "volumes"])
async def test_list_targets(client: BridgeClient, target: str) -> None:
    assert await navigate(client, target=target) == f"{PAGES}/{target}"


async def test_image_by_id_or_reference(client: BridgeClient, engine: EngineUnderTest) -> None:
    image_id = inspected(engine, "image", engine.image)
    tag = engine.image.rpartition(":")[2]
    expected = f"{PAGES}/images/{image_id}?tag={tag}"
    assert await navigate(client, target="image", id=image_id, tag=tag) == expected
    assert await navigate(client, target="image", id=engine.image, tag=tag) == expected, "a reference too"
    assert await navigate(client, target="image", id=image_id, tag="") == f"{PAGES}/images/{image_id}"


async def test_image_with_a_tag_it_does_not_have_still_opens(
    client: BridgeClient, engine: EngineUnderTest
) -> None:
    """The image exists: the intent resolves (the page says the tag is not one of its tags)."""
    image_id = inspected(engine, "image", engine.image)
    url = await navigate(client, target="image", id=image_id, tag="not-a-tag")
    assert url == f"{PAGES}/images/{image_id}?tag=not-a-tag"


async def test_volume(client: BridgeClient, volume: str) -> None:
    assert await navigate(client, target="volume", id=volume) == f"{PAGES}/volumes/{volume}"


@pytest.mark.parametrize(
    ("target", "kind", "extra"),
    [
        ("container", "container", {}),
        ("containerLogs", "container", {}),
        ("containerInspect", "container", {}),
        ("containerTerminal", "container", {}),
        ("containerStats", "container", {}),
        ("image", "image", {"tag": "latest"}),
        ("volume", "volume", {}),
    ],
)
async def test_a_missing_target_rejects_naming_it(
    client: BridgeClient, engine: EngineUnderTest, target: str, kind: str, extra: dict[str, str]
) -> None:
    missing = f"no-such-{kind}-ddb"
    with pytest.raises(RpcFailure) as failure:
        await client.call("desktop.navigate", {"target": target, "id": missing, **extra})
    assert failure.value.code == -32008
    assert f"no {kind} '{missing}'" in failure.value.message
    assert engine.host in failure.value.message
    assert failure.value.data == {"kind": kind, "id": missing}


@pytest.mark.parametrize(
    ("target", "odd"),
    [
        ("container", "../../containers/json"),
        ("container", "x?all=1"),
        ("container", "a/b"),
        ("volume", "../volumes"),
        ("volume", "v%2F"),
        ("image", "a/../../containers/json"),
        ("image", "busybox?x=1"),
    ],
)
async def test_ids_no_object_could_have_reject_unsent(client: BridgeClient, target: str, odd: str) -> None:
    """The engine cleans the paths it is asked for (``..%2F`` climbs): such ids are not sent."""
    params = {"target": target, "id": odd, **({"tag": ""} if target == "image" else {})}
    with pytest.raises(RpcFailure) as failure:
        await client.call("desktop.navigate", params)
    assert failure.value.code == -32008
    assert f"'{odd}'" in failure.value.message
    assert f"(not a {target} name or id)" in failure.value.message


async def test_an_image_reference_the_engine_refuses_is_not_found(client: BridgeClient) -> None:
    with pytest.raises(RpcFailure) as failure:
        await client.call("desktop.navigate", {"target": "image", "id": "Not/Lowercase:1", "tag": "1"})
    assert failure.value.code == -32008
    assert "no image 'Not/Lowercase:1'" in failure.value.message
    assert "lowercase" in failure.value.message, "the engine's reason"


async def test_a_container_name_as_lists_spell_it(client: BridgeClient, engine: EngineUnderTest) -> None:
    """``Names`` in ``listContainers`` start with a slash; Docker's CLI takes them as well."""
    full_id = inspected(engine, "container", engine.vm)
    assert await navigate(client, target="container", id=f"/{engine.vm}") == f"{PAGES}/containers/{full_id}"


@pytest.mark.parametrize(
    ("params", "field", "says"),
    [
        ({"target": "container"}, "id", "required for target 'container'"),
        ({"target": "containerLogs", "id": ""}, "id", "at least 1 character"),
        ({"target": "image", "id": "sha256:abc"}, "tag", "required for target 'image'"),
        ({"target": "containers", "id": "x"}, "id", "not used by target 'containers'"),
        ({"target": "volume", "id": "v", "tag": "t"}, "tag", "not used by target 'volume'"),
        ({"target": "container", "id": 7}, "id", "valid string"),
        ({"target": "dashboard"}, "target", "'containers'"),
        ({}, "target", "required"),
        ({"target": "images", "colour": "blue"}, "colour", "not permitted"),
    ],
)
async def test_bad_params_name_the_field(
    client: BridgeClient, params: dict[str, Any], field: str, says: str
) -> None:
    with pytest.raises(RpcFailure) as failure:
        await client.call("desktop.navigate", params)
    assert failure.value.code == -32602
    assert f"{field}: " in failure.value.message
    assert says in failure.value.message
    assert [error["field"] for error in failure.value.data["errors"]] == [field]


async def test_without_an_engine_every_target_is_unavailable(bridge: StartBridge, short_tmp: Path) -> None:
    host = f"unix://{short_tmp}/no-engine-for-navigation.sock"
    running = bridge("--docker-host", host)
    async with BridgeClient.connect(running.ws_url) as client:
        for params in (
            {"target": "containers"},
            {"target": "containerLogs", "id": "abc"},
            {"target": "image", "id": "sha256:abc", "tag": "latest"},
            {"target": "volume", "id": "data"},
        ):
            with pytest.raises(RpcFailure) as failure:
                await client.call("desktop.navigate", params)
            assert failure.value.code == -32004, params
            assert failure.value.data == {"host": host}


async def test_each_intent_goes_to_the_inspector_and_the_log(
    docker_bridge: StartBridge, engine: EngineUnderTest
) -> None:
    running = docker_bridge()
    async with inspector(running) as watching, BridgeClient.connect(running.ws_url) as client:
        url = await navigate(client, target="containerLogs", id=engine.vm)
        event = await watching.until(kind_is("navigate"))
        with pytest.raises(RpcFailure):
            await navigate(client, target="volume", id="no-such-volume-ddb")
        failed = await watching.until(lambda seen: seen["kind"] == "result" and "error" in seen)
    assert event == {**event, "target": "containerLogs", "id": engine.vm, "url": url}
    assert "conn" in event and "tag" not in event
    assert failed["error"]["code"] == -32008, "a rejected intent shows as its call's error"
    assert [e for e in watching.received if e["kind"] == "navigate"] == [event]
    assert f"navigate containerLogs id='{engine.vm}'" in running.log()
    assert url in running.log()
