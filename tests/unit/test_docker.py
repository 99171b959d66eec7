"""The pure parts of the Docker support: the blocking CLI form's command line, list options,
the engine address, the names that may become Engine API paths."""

from __future__ import annotations

import json
import socket
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from bridge.api.docker import ContainerListOptions, ImageListOptions, ListContainersParams, ListImagesParams
from bridge.api.exec import ExecParams, docker_command_line
from bridge.config import DockerSettings, load_settings
from bridge.docker_engine import (
    DEFAULT_HOST,
    DEFAULT_SOURCE,
    EngineAddress,
    container_ref,
    is_image_ref,
    segment,
)
from bridge.errors import ConfigError, InvalidParams
from bridge.extension.session import engine_is_here
from bridge.processes.base import ExecSpec
from bridge.rpc.dispatch import ignored_fields


def test_the_blocking_form_splits_the_joined_line_into_words() -> None:
    params = ExecParams(target="docker", cmd="image inspect", args=["--format", '"{{ .Id }}"', "", "''"])
    assert docker_command_line(params).spec() == ExecSpec("image", ["inspect", "--format", "{{ .Id }}", ""])


@pytest.mark.parametrize(("cmd", "args"), [("ps", ["--format", "'{{.Names}}"]), ("'ps", [])])
def test_an_unclosed_quote_is_invalid_params_naming_the_command(cmd: str, args: list[str]) -> None:
    with pytest.raises(InvalidParams) as refused:
        docker_command_line(ExecParams(target="docker", cmd=cmd, args=args))
    assert f"docker {cmd!r}" in refused.value.message and "never closed" in refused.value.message
    assert refused.value.data["errors"][0]["field"] == "args"


def test_a_line_of_no_words_is_invalid_params() -> None:
    with pytest.raises(InvalidParams, match="has no words"):
        docker_command_line(ExecParams(target="docker", cmd=" ", args=["", " "]))


def test_only_given_options_are_sent() -> None:
    assert ContainerListOptions().query() == {}
    options = ContainerListOptions(all=True, limit=5, size=False)
    assert options.query() == {"all": "1", "limit": "5", "size": "0"}


@pytest.mark.parametrize(
    "filters",
    [
        {"status": ["running"], "label": ["a=b", "c"]},
        json.dumps({"status": ["running"], "label": ["a=b", "c"]}),
        {"status": "running", "label": ["a=b", "c"]},
    ],
)
def test_filters_are_sent_as_the_engines_json(filters: Any) -> None:
    query = ContainerListOptions(filters=filters).query()
    assert json.loads(query["filters"]) == {"status": ["running"], "label": ["a=b", "c"]}


def test_the_older_map_form_of_filters_is_kept() -> None:
    query = ImageListOptions(filters={"dangling": {"true": True}}).query()
    assert json.loads(query["filters"]) == {"dangling": {"true": True}}


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"limit": -1}, "options.limit"),
        ({"limit": "5"}, "options.limit"),
        ({"limit": 2.5}, "options.limit"),
        ({"all": "yes"}, "options.all"),
        ({"all": 1}, "options.all"),
        ({"size": "true"}, "options.size"),
        ({"filters": "{nope"}, "options.filters"),
        ({"filters": "[]"}, "options.filters"),
        ({"filters": {"name": 1}}, "options.filters"),
    ],
)
def test_bad_options_name_the_field(options: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationError) as failure:
        ListContainersParams.model_validate({"options": options})
    where = {".".join(str(part) for part in error["loc"]) for error in failure.value.errors()}
    assert any(place.startswith(field) for place in where), where


def test_other_keys_are_accepted_noted_and_never_sent() -> None:
    """Docker Desktop's keys the engine has no use for (``format``, ``namespace``) and those of the
    other list (``digests`` for containers, ``size`` for images), whatever their values."""
    containers = ListContainersParams.model_validate(
        {"options": {"all": True, "format": "json", "namespace": {"x": 1}, "digests": "yes"}}
    )
    assert containers.options.query() == {"all": "1"}
    assert sorted(ignored_fields(containers)) == ["options.digests", "options.format", "options.namespace"]
    images = ListImagesParams.model_validate(
        {"options": {"format": "json", "size": True, "shared-size": True}}
    )
    assert images.options.query() == {"shared-size": "1"}
    assert sorted(ignored_fields(images)) == ["options.format", "options.size"]
    assert ignored_fields(ListContainersParams.model_validate({"options": {"all": False}})) == []


def test_engine_address_defaults_like_the_docker_cli(tmp_path: Path) -> None:
    no_config = {"DOCKER_CONFIG": str(tmp_path)}
    assert EngineAddress.resolve(DockerSettings(), no_config) == EngineAddress(
        DEFAULT_HOST, source=DEFAULT_SOURCE
    )
    from_env = EngineAddress.resolve(
        DockerSettings(),
        {"DOCKER_HOST": "tcp://engine:2376", "DOCKER_TLS_VERIFY": "1", "DOCKER_CERT_PATH": "/certs"},
    )
    assert from_env == EngineAddress(
        "tcp://engine:2376", True, Path("/certs"), tls=True, source="DOCKER_HOST"
    )
    # As the CLI: any DOCKER_TLS_VERIFY but an empty one verifies; DOCKER_TLS is TLS without it,
    # with the files of the CLI's config folder.
    zero = EngineAddress.resolve(DockerSettings(), {"DOCKER_HOST": "tcp://e:1", "DOCKER_TLS_VERIFY": "0"})
    assert zero.tls_verify
    unverified = EngineAddress.resolve(
        DockerSettings(), {"DOCKER_HOST": "tcp://e:1", "DOCKER_TLS": "1", **no_config}
    )
    assert (unverified.tls, unverified.tls_verify, unverified.cert_path) == (True, False, tmp_path)
    configured = EngineAddress.resolve(
        DockerSettings(host="unix:///run/other.sock", tls_verify=False), {"DOCKER_HOST": "tcp://ignored:1"}
    )
    assert configured == EngineAddress("unix:///run/other.sock", source="[docker] host / --docker-host")


def test_engine_address_urls_and_cli_environment(tmp_path: Path) -> None:
    assert EngineAddress("unix:///var/run/docker.sock").url() == "unix:///var/run/docker.sock"
    assert EngineAddress("tcp://engine:2375").url() == "http://engine:2375"
    tls = EngineAddress("tcp://engine:2376", True, tmp_path)
    assert tls.url() == "https://engine:2376"
    unset = {"DOCKER_CONTEXT": "", "DOCKER_TLS": ""}
    assert tls.cli_env() == {
        "DOCKER_HOST": "tcp://engine:2376",
        "DOCKER_TLS_VERIFY": "1",
        "DOCKER_CERT_PATH": str(tmp_path),
        **unset,
    }
    (tmp_path / "ca.pem").write_text("")
    assert tls.cli_env()["REQUESTS_CA_BUNDLE"] == tls.cli_env()["CURL_CA_BUNDLE"] == ""
    assert EngineAddress("tcp://e:1", cert_path=tmp_path, tls=True).cli_env()["DOCKER_TLS"] == "1"
    plain = EngineAddress("unix:///x.sock", True, Path("/certs"))
    assert plain.cli_env() == {
        "DOCKER_HOST": "unix:///x.sock",
        "DOCKER_TLS_VERIFY": "",
        "DOCKER_CERT_PATH": "",
        **unset,
    }
    assert plain.ssl_context() is None


def test_engine_address_must_have_a_scheme() -> None:
    with pytest.raises(ConfigError, match=r"docker\.host"):
        load_settings(flags={"docker": {"host": "/var/run/docker.sock"}}, environ={})


@pytest.mark.parametrize("name", ["vm", "/vm", "my-app_backend.1", "a1", "f", "0123abcd" * 8])
def test_container_names_and_ids_are_accepted(name: str) -> None:
    assert container_ref(name, field="target") == name.removeprefix("/")


@pytest.mark.parametrize(
    "name",
    [
        "",
        "/",
        "x",
        ".",
        "..",
        "-a",
        "_a",
        "a/b",
        "a/../b",
        "a?x=",
        "a#",
        "a%2Fpause",
        "a b",
        "a\n",
        "\u0430b",
        "/" * 2 + "a",
    ],
)
def test_other_container_names_are_invalid_params(name: str) -> None:
    with pytest.raises(InvalidParams) as refused:
        container_ref(name, field="target")
    assert refused.value.field == "target"


@pytest.mark.parametrize(
    ("image", "valid"),
    [
        ("busybox", True),
        ("ddbridge-test/sample:1", True),
        ("localhost:5000/team/app:v1.2", True),
        ("app@sha256:" + "0" * 64, True),
        ("sha256:" + "0" * 64, True),
        ("../x", False),
        ("a/../b", False),
        ("a/./b", False),
        ("a?x=", False),
        ("a#b", False),
        ("a//b", False),
        ("/a", False),
    ],
)
def test_image_references(image: str, valid: bool) -> None:
    assert is_image_ref(image) is valid


def test_a_segment_is_quoted_whole() -> None:
    assert segment("a/b?c=#%") == "a%2Fb%3Fc%3D%23%25"


@pytest.mark.parametrize(
    ("host", "here"),
    [
        ("unix:///var/run/docker.sock", True),
        ("tcp://127.0.0.1:2375", True),
        ("tcp://localhost:2376", True),
        ("tcp://[::1]:2375", True),
        ("https://127.0.0.2:2376", True),
        ("tcp://192.0.2.1:2375", False),  # TEST-NET-1: nobody's
        ("tcp://no-such-host.invalid:2375", False),
        ("ssh://me@engine", None),  # not decided here: its transport's business
    ],
)
async def test_whether_a_backend_folder_here_is_the_engines(host: str, here: bool | None) -> None:
    assert await engine_is_here(host) is here


async def test_an_address_of_this_machine_is_here() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))  # no packet is sent: it only picks the outgoing address
        except OSError:
            pytest.skip("no route out of this machine: it has no address but loopback")
        own = probe.getsockname()[0]
    assert await engine_is_here(f"tcp://{own}:2375") is True
