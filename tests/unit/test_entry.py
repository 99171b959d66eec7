"""The ``ddbridge`` command's entry (``bridge.entry``): the CLI's imports run with the cyclic
collector paused, the objects they made are frozen out of later collections, and the command
itself runs with the collector on, its youngest generation collected less often; and making
the app imports nothing it does not use.

Each test runs in a fresh interpreter: what it looks at is a process that has not imported the
CLI yet.
"""

from __future__ import annotations

import subprocess
import sys
import tomllib

from bridge.entry import YOUNG_THRESHOLD
from tests.support.processes import REPO

# Counts the collections that start between the end of the ``bridge`` package's import (its
# ``__version__``) and the end of ``bridge.cli``'s (COMMANDS is its last definition), then runs
# ``ddbridge --version`` through IMPORT.
SCRIPT = """
import gc, sys
during_imports = []

def count(phase, info):
    package, cli = sys.modules.get("bridge"), sys.modules.get("bridge.cli")
    if phase == "start" and hasattr(package, "__version__") and not hasattr(cli, "COMMANDS"):
        during_imports.append(info["generation"])

gc.callbacks.append(count)
sys.argv = ["ddbridge", "--version"]
{IMPORT}
print(len(during_imports), gc.isenabled(), gc.get_freeze_count(), gc.get_threshold()[0], file=sys.stderr)
"""

THROUGH_ENTRY = """
from bridge.entry import main
try:
    main()
except SystemExit:
    pass
"""


def _python(*args: str) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([sys.executable, *args], capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    return done


def _collections(import_code: str) -> tuple[int, bool, int, int]:
    """Collections during the imports, whether the collector is on after them, how many objects
    are frozen and the youngest generation's threshold."""
    done = _python("-c", SCRIPT.replace("{IMPORT}", import_code))
    runs, enabled, frozen, threshold = done.stderr.split()
    return int(runs), enabled == "True", int(frozen), int(threshold)


def test_the_imports_run_no_collection_and_are_frozen_after() -> None:
    runs, enabled, frozen, threshold = _collections(THROUGH_ENTRY)
    assert runs == 0
    assert enabled
    assert frozen > 20_000
    assert threshold == YOUNG_THRESHOLD


def test_a_plain_import_of_the_cli_runs_the_collector_many_times() -> None:
    """What the entry saves: the same imports, the collector left as it is."""
    runs, enabled, frozen, threshold = _collections("import bridge.cli")
    assert runs >= 10
    assert enabled
    assert frozen == 0
    assert threshold == 700


def test_the_command_and_python_m_bridge_go_through_the_entry() -> None:
    scripts = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts["ddbridge"] == "bridge.entry:main"
    assert (REPO / "bridge" / "__main__.py").read_text().startswith("from bridge.entry import main\n")
    assert _python("-m", "bridge", "--version").stdout.strip() == "ddbridge 0.1.0"


def test_making_the_app_imports_no_pydantic_v1() -> None:
    """FastAPI imports ``pydantic.v1`` (20-30 ms) for the first route parameter it validates;
    the routes read their path's parts from the request instead."""
    script = (
        "import sys\n"
        "from bridge.app import create_app\n"
        "from bridge.config import Settings\n"
        "create_app(Settings())\n"
        "print('pydantic.v1' in sys.modules)"
    )
    assert _python("-c", script).stdout.strip() == "False"
