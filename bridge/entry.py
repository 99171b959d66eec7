"""The ``ddbridge`` command (and ``python -m bridge``): the CLI's imports with the collector paused.

Importing the daemon makes about 100,000 objects that live as long as the process: modules,
classes, functions, the schemas pydantic and FastAPI build. The cyclic collector, run every few
hundred allocations over ever more of them, was a sixth of start-up (``perf`` of the imports:
``gc_collect_main`` and its visitors 19% of the samples), and later one full collection of them
takes 70-90 ms of the event loop. Paused for the imports and then frozen, they are kept out of
every collection; what the imports leave as garbage is a few hundred objects. The command runs
with the collector on, as before.
"""

from __future__ import annotations

import gc


def main() -> int:
    gc.disable()
    try:
        from bridge.cli import main as run_command
    finally:
        gc.freeze()
        gc.enable()
    return run_command()
