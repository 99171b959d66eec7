"""The extensions store: its file round trip, atomic and serialized writes, the stores it refuses
(and leaves as they are), its permissions, and the slugs that name extensions' origins."""

from __future__ import annotations

import json
import multiprocessing
import os
import stat
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from bridge.errors import ConfigError
from bridge.host.store import (
    FILE,
    LOCK,
    SLUG_LENGTH,
    InstalledExtension,
    Store,
    StoreError,
    data_root,
    pick_slug,
)


def entry(name: str, slug: str | None = None, **fields: str) -> InstalledExtension:
    values = {
        "image": f"{name}:1.0.0",
        "image_id": "sha256:" + "ab" * 32,
        "title": name.rsplit("/", 1)[-1].title(),
        "provider": "Acme, Inc.",
        "version": "1.0.0",
        **fields,
    }
    return InstalledExtension(name=name, slug=slug or pick_slug(name, ()), **values)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_round_trip(tmp_path: Path) -> None:
    store = Store(tmp_path / "ddbridge")
    assert store.load() == [] and store.get("x/y") is None
    assert not store.root.exists()  # reading makes nothing
    logs = entry("docker/logs-explorer-extension", ui_source="http://localhost:3000")
    sample = entry("ddbridge/sample")
    store.put(logs)
    store.put(sample)
    again = Store(tmp_path / "ddbridge")
    assert again.load() == [sample, logs]  # by name
    assert again.get("docker/logs-explorer-extension") == logs
    document = json.loads(store.path.read_text())
    assert document["version"] == 1
    assert document["extensions"][1] == {
        "name": "docker/logs-explorer-extension",
        "image": "docker/logs-explorer-extension:1.0.0",
        "image_id": "sha256:" + "ab" * 32,
        "title": "Logs-Explorer-Extension",
        "slug": "docker-logs-explorer-extension",
        "provider": "Acme, Inc.",
        "version": "1.0.0",
        "ui_source": "http://localhost:3000",
        "installed_at": logs.installed_at,
    }
    updated = logs.with_ui_source(None)
    store.put(updated)
    assert again.get(logs.name) == updated and len(again.load()) == 2
    assert store.remove(logs.name) is True
    assert store.remove(logs.name) is False
    assert again.load() == [sample]


def test_installed_at_is_when_the_entry_was_made() -> None:
    made = entry("a/b")
    assert made.installed_at.endswith("+00:00") and "T" in made.installed_at


def test_a_failed_write_leaves_the_old_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = Store(tmp_path)
    store.put(entry("a/first"))
    before = store.path.read_bytes()

    def crash(source: str, target: str) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(StoreError, match=r"cannot write the extensions store .*: No space left on device"):
        store.put(entry("a/second"))
    assert store.path.read_bytes() == before
    assert sorted(path.name for path in tmp_path.iterdir()) == [FILE, LOCK]  # no partial file left
    monkeypatch.undo()
    store.put(entry("a/second"))
    assert [found.name for found in store.load()] == ["a/first", "a/second"]


def damaged_entry(path: Path) -> None:
    path.write_text(json.dumps({"version": 1, "extensions": [{"name": "a/b", "title": "T", "slug": "a-b"}]}))


def shared_slug(path: Path) -> None:
    entries = [
        {"name": name, "image": name, "image_id": "x", "title": "T", "slug": "same"}
        for name in ("a/b", "c/d")
    ]
    path.write_text(json.dumps({"version": 1, "extensions": entries}))


@pytest.mark.parametrize(
    ("damage", "problem"),
    [
        (lambda path: path.write_text('{"version": 1, "extensions": [{'), "is not valid JSON"),
        (lambda path: path.write_bytes(b"\xff\xfe"), "is not valid JSON"),
        (lambda path: path.write_text("[]"), "does not hold a JSON object"),
        (lambda path: path.write_text('{"extensions": []}'), "has no version"),
        (lambda path: path.write_text('{"version": 1}'), "has no list of extensions"),
        (damaged_entry, r"has a damaged entry \(entry 1: image: Field required\)"),
        (
            lambda path: path.write_text(
                '{"version": 1, "extensions": [{"name": "a", "image": "a", "image_id": "x",'
                ' "title": "T", "slug": "Not A Label"}]}'
            ),
            r"entry 1: slug 'Not A Label' of a is not a DNS label",
        ),
        (shared_slug, "gives a/b and c/d the same slug 'same'"),
        (lambda path: path.mkdir(), r"cannot be read \(Is a directory\)"),
    ],
)
def test_a_damaged_store_is_refused_and_left_as_it_is(
    tmp_path: Path, damage: Callable[[Path], object], problem: str
) -> None:
    store = Store(tmp_path)
    damage(store.path)
    before = store.path.read_bytes() if store.path.is_file() else None
    for attempt in (
        store.load,
        lambda: store.get("a/b"),
        lambda: store.put(entry("e/f")),
        lambda: store.remove("a/b"),
    ):
        with pytest.raises(StoreError) as raised:
            attempt()
        message = str(raised.value)
        assert message.startswith(f"the extensions store {store.path} ")
        assert "leaves it as it is" in message and "\n" not in message
        assert raised.match(problem)
    if before is not None:
        assert store.path.read_bytes() == before
    assert [path.name for path in tmp_path.iterdir() if path.name.endswith(".partial")] == []


def test_an_unknown_version_is_refused(tmp_path: Path) -> None:
    store = Store(tmp_path)
    store.path.write_text('{"version": 2, "extensions": [], "more": "from the future"}')
    with pytest.raises(StoreError, match="has version 2, and this ddbridge knows version 1"):
        store.put(entry("a/b"))
    assert json.loads(store.path.read_text())["more"] == "from the future"


def test_the_cli_reports_a_store_error_as_a_usage_error() -> None:
    # bridge.cli prints a ConfigError on one line and exits 2.
    assert issubclass(StoreError, ConfigError)


def test_a_slug_taken_by_another_extension_is_refused(tmp_path: Path) -> None:
    store = Store(tmp_path)
    store.put(entry("a/b", slug="shared"))
    with pytest.raises(StoreError, match="its slug 'shared' is a/b's"):
        store.put(entry("c/d", slug="shared"))
    assert [found.name for found in store.load()] == ["a/b"]


def put_many(root: Path, prefix: str, count: int, start: threading.Barrier) -> None:
    """Run in another process: ``count`` read-modify-writes of the store, once all writers are ready."""
    store = Store(root)
    start.wait(30)
    for number in range(count):
        store.put(entry(f"{prefix}/extension-{number}"))


def test_writers_in_two_processes_both_land(tmp_path: Path) -> None:
    count = 100
    context = multiprocessing.get_context("spawn")
    start = context.Barrier(2)
    writers = [
        context.Process(target=put_many, args=(tmp_path, prefix, count, start)) for prefix in ("one", "two")
    ]
    for writer in writers:
        writer.start()
    for writer in writers:
        writer.join(60)
        assert writer.exitcode == 0
    names = {found.name for found in Store(tmp_path).load()}
    assert names == {f"{prefix}/extension-{n}" for prefix in ("one", "two") for n in range(count)}


def test_permissions(tmp_path: Path) -> None:
    store = Store(tmp_path / "data" / "ddbridge")
    store.put(entry("a/b"))
    assert mode(store.root) == 0o700
    assert mode(store.path) == 0o600
    assert mode(store.root / LOCK) == 0o600
    loose = Store(tmp_path / "loose")
    loose.root.mkdir(mode=0o755)
    loose.root.chmod(0o755)
    loose.put(entry("a/b"))
    assert mode(loose.root) == 0o700


def test_data_root_follows_xdg(tmp_path: Path) -> None:
    assert data_root({"XDG_DATA_HOME": str(tmp_path)}) == tmp_path / "ddbridge"
    assert data_root({}) == Path.home() / ".local" / "share" / "ddbridge"


@pytest.mark.parametrize(
    ("name", "slug"),
    [
        ("docker/logs-explorer-extension", "docker-logs-explorer-extension"),
        ("Acme/My_Extension.v2", "acme-my-extension-v2"),
        ("portainer/portainer-docker-extension", "portainer-portainer-docker-extension"),
        ("sample", "sample"),
        # The registry says nothing about the extension; a clash with another registry's gets a number.
        ("localhost:5000/ddbridge/sample", "ddbridge-sample"),
        ("ghcr.io/acme/tool", "acme-tool"),
        ("registry.example.com:443/x", "x"),
        ("__", "extension"),
        ("a" * 80, "a" * SLUG_LENGTH),
        ("a" * 62 + "/b", "a" * 62),  # cut at 63, and no '-' left at the end
    ],
)
def test_slug_rules(name: str, slug: str) -> None:
    picked = pick_slug(name, ())
    assert picked == slug
    assert entry(name, picked).slug == slug  # a valid DNS label


def test_slug_collisions() -> None:
    assert pick_slug("acme/tool", {"acme-tool"}) == "acme-tool-2"
    assert pick_slug("ghcr.io/acme/tool", {"acme-tool", "acme-tool-2"}) == "acme-tool-3"
    long = pick_slug("b" * 70, {"b" * SLUG_LENGTH})
    assert long == "b" * (SLUG_LENGTH - 2) + "-2"


@pytest.mark.parametrize("slug", ["", "-a", "a-", "A", "a.b", "a_b", "a" * (SLUG_LENGTH + 1)])
def test_an_entry_needs_a_dns_label_slug(slug: str) -> None:
    with pytest.raises(ValueError, match="is not a DNS label"):
        InstalledExtension(name="a/b", image="a/b:1", image_id="x", title="T", slug=slug)
