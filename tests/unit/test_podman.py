"""Podman's lists in Docker's shape (bridge/podman.py), on answers as Podman 4.3 gives them."""

from __future__ import annotations

import pytest

from bridge.podman import docker_containers, docker_images, familiar, identity, is_podman, list_query, refused


@pytest.mark.parametrize(
    ("podman", "docker"),
    [
        ("docker.io/library/busybox:latest", "busybox:latest"),
        ("docker.io/library/busybox@sha256:ab12", "busybox@sha256:ab12"),
        ("docker.io/me/app:1", "me/app:1"),
        ("docker.io/library/a/b:1", "library/a/b:1"),
        ("localhost/app:1", "app:1"),
        ("localhost:5000/app:1", "localhost:5000/app:1"),
        ("quay.io/x/y:2", "quay.io/x/y:2"),
        ("sha256:0123abcd", "sha256:0123abcd"),
    ],
)
def test_familiar_names_are_dockers(podman: str, docker: str) -> None:
    assert familiar(podman) == docker


def test_podman_is_told_by_its_version_component() -> None:
    assert is_podman({"Components": [{"Name": "Podman Engine", "Version": "4.3.1"}], "Version": "4.3.1"})
    assert not is_podman({"Components": [{"Name": "Engine", "Version": "28.2.2"}]})
    assert not is_podman({"Components": None})


def test_a_container_gets_dockers_keys_and_loses_podmans() -> None:
    podman = {
        "Id": "05a5",
        "Names": ["/vm"],
        "Image": "docker.io/library/busybox:latest",
        "NetworkSettings": {"Networks": None},
        "Name": "",
        "Config": None,
        "NetworkingConfig": None,
        "Platform": None,
        "AdjustCPUShares": False,
    }
    assert docker_containers([podman]) == [
        {
            "Id": "05a5",
            "Names": ["/vm"],
            "Image": "busybox:latest",
            "NetworkSettings": {"Networks": {}},
            "HostConfig": {"NetworkMode": "none"},
        }
    ]
    netted = {"Id": "f5d4", "NetworkSettings": {"Networks": {"proj_default": {"IPAddress": "10.89.0.2"}}}}
    assert docker_containers([netted])[0]["HostConfig"] == {"NetworkMode": "proj_default"}


def test_an_image_gets_familiar_names_and_loses_podmans_keys() -> None:
    podman = {
        "Id": "sha256:8915",
        "RepoTags": ["docker.io/me/app:1", "localhost/app:dev"],
        "RepoDigests": ["docker.io/me/app@sha256:5ee5"],
        "Names": ["docker.io/me/app:1"],
        "Digest": "sha256:5ee5",
        "History": ["docker.io/me/app:1"],
    }
    assert docker_images([podman]) == [
        {"Id": "sha256:8915", "RepoTags": ["me/app:1", "app:dev"], "RepoDigests": ["me/app@sha256:5ee5"]}
    ]


def test_digests_is_not_sent_and_a_500_is_podmans_refusal() -> None:
    assert list_query({"all": "1", "digests": "1"}) == {"all": "1"}
    assert refused(500, podman=True) and refused(400, podman=False)
    assert not refused(500, podman=False)


def test_podmans_engine_is_told_by_name_and_storage_root_not_its_made_up_id() -> None:
    info = {"ID": "38904d40-7e9c", "Name": "vm", "DockerRootDir": "/var/lib/containers/storage"}
    assert identity(info, podman=False) == ("38904d40-7e9c", "{{.ID}}", "ID")
    assert identity(info, podman=True) == (
        "vm /var/lib/containers/storage",
        "{{.Name}} {{.DockerRootDir}}",
        "name and storage root",
    )
