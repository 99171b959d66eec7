"""The ``ddbridge`` command (and ``python -m bridge``): the CLI's imports with the collector paused.

Importing the daemon makes about 100,000 objects that live as long as the process: modules,
classes, functions, the schemas pydantic and FastAPI build. The cyclic collector, run every few
hundred allocations over ever more of them, was a sixth of start-up (``perf`` of the imports:
``gc_collect_main`` and its visitors 19% of the samples), and later one full collection of them
takes 70-90 ms of the event loop. Paused for the imports and then frozen, they are kept out of
every collection; what the imports leave as garbage is a few hundred objects. The command runs
with the collector on, as before.

The youngest generation is then collected once ``YOUNG_THRESHOLD`` more objects are tracked
than were freed, not Python's 700: a service call in flight holds about 50 (its task,
coroutines, futures, dicts), so 64 calls arriving in one read passed 700 four times, and each
young collection walked what the calls in flight held: 7% of the daemon's samples at 64 in
flight (py-spy, native frames). At ten thousand the bursts pass without one (the daemon's CPU
per call at 64 in flight 3-6% lower in interleaved runs); cycles wait a few hundred calls at most.
"""

from __future__ import annotations

import gc

YOUNG_THRESHOLD = 10_000


def main() -> int:
    gc.disable()
    try:
        from bridge.cli import main as run_command
    finally:
        gc.freeze()
        _, middle, old = gc.get_threshold()
        gc.set_threshold(YOUNG_THRESHOLD, middle, old)
        gc.enable()
    return run_command()
