"""The pull's progress stream folded into events (bridge/host/pull.py's PullTracker), on lines
as dockerd 20.10 sent them for a pull from the test registry."""

from __future__ import annotations

import json

import pytest

from bridge.host.pull import PullEvent, PullTracker, RegistryRefused, format_bytes

LAYER = "5edd3b477197"
STREAM = [
    {"status": "Pulling from x/busy", "id": "1"},
    {"status": "Pulling fs layer", "progressDetail": {}, "id": LAYER},
    {"status": "Already exists", "progressDetail": {}, "id": "0a1b2c3d4e5f"},
    {"status": "Downloading", "progressDetail": {"current": 36445, "total": 1068542}, "id": LAYER},
    {"status": "Downloading", "progressDetail": {"current": 1068542, "total": 1068542}, "id": LAYER},
    {"status": "Download complete", "progressDetail": {}, "id": LAYER},
    {"status": "Extracting", "progressDetail": {"current": 32768, "total": 1068542}, "id": LAYER},
    {"status": "Pull complete", "progressDetail": {}, "id": LAYER},
    {"status": "Digest: sha256:1ea0"},
    {"status": "Status: Downloaded newer image for 127.0.0.1:5591/x/busy:1"},
]


def lines(*messages: object) -> list[bytes]:
    return [json.dumps(message).encode() + b"\r\n" for message in messages]


def test_layers_and_image_lines_become_events() -> None:
    tracker = PullTracker()
    events = [tracker.feed(line) for line in lines(*STREAM)]
    assert events[0] == PullEvent(None, "Pulling from x/busy")  # its id is the tag, not a layer
    assert events[3] == PullEvent(LAYER, "Downloading", 36445, 1068542)
    assert events[3].as_dict() == {
        "layer": LAYER,
        "status": "Downloading",
        "current": 36445,
        "total": 1068542,
    }
    assert events[1] == PullEvent(LAYER, "Pulling fs layer")
    assert events[-2] == PullEvent(None, "Digest: sha256:1ea0")
    assert set(tracker.layers) == {LAYER, "0a1b2c3d4e5f"}
    assert tracker.summary() == "1 layer pulled (1.069MB), 1 already on the engine"


def test_the_terminal_line_follows_the_latest_layer() -> None:
    tracker = PullTracker()
    assert tracker.detail() == ""
    shown = []
    for line in lines(*STREAM[:8]):
        tracker.feed(line)
        shown.append(tracker.detail())
    assert shown[0] == "Pulling from x/busy"
    assert shown[3] == f"1/2 layers · {LAYER} Downloading 36.45kB/1.069MB"
    assert shown[7] == f"2/2 layers · {LAYER} Pull complete"


def test_blank_lines_are_skipped_and_no_layers_is_up_to_date() -> None:
    tracker = PullTracker()
    assert tracker.feed(b"\r\n") is None
    tracker.feed(b'{"status":"Status: Image is up to date for 127.0.0.1:5591/x/busy:1"}')
    assert tracker.summary() == "up to date"


@pytest.mark.parametrize(
    ("message", "said"),
    [
        (
            {"errorDetail": {"message": "unauthorized: authentication required"}, "error": "x"},
            "unauthorized: authentication required",
        ),
        ({"error": "read: connection reset by peer"}, "read: connection reset by peer"),
        (["not", "an", "object"], "the engine sent ['not', 'an', 'object'] where a progress object belongs"),
    ],
)
def test_error_lines_refuse(message: object, said: str) -> None:
    with pytest.raises(RegistryRefused) as caught:
        PullTracker().feed(json.dumps(message).encode())
    assert str(caught.value) == said


def test_a_line_that_is_not_json_refuses() -> None:
    with pytest.raises(RegistryRefused, match=r"^the engine sent a line that is not JSON: b'\{oops'$"):
        PullTracker().feed(b"{oops")


@pytest.mark.parametrize(
    ("count", "shown"),
    [(0, "0B"), (999, "999B"), (1000, "1kB"), (36445, "36.45kB"), (1068542, "1.069MB"), (5 * 10**12, "5TB")],
)
def test_sizes_as_the_docker_cli_shows_them(count: int, shown: str) -> None:
    assert format_bytes(count) == shown
