"""Deferred modules (``bridge.deferred``): imported for nothing, run on first use, as an import.

Each test runs in a fresh interpreter, since what it looks at is ``sys.modules`` of a process;
the modules are small packages written into ``tmp_path``.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

PACKAGE = {
    "slow/__init__.py": """
        import sys
        sys.modules["__main__"].RUNS.append("slow")
        from slow.errors import SlowError
        VALUE = 42
    """,
    "slow/errors.py": """
        class SlowError(Exception):
            pass
    """,
    "broken/__init__.py": """
        raise RuntimeError("broken at import")
    """,
}


def _run(tmp_path: Path, script: str) -> str:
    for name, text in PACKAGE.items():
        path = tmp_path / name
        path.parent.mkdir(exist_ok=True)
        path.write_text(textwrap.dedent(text))
    prelude = "import sys\nRUNS = []\nsys.path.insert(0, sys.argv[1])\nfrom bridge.deferred import defer\n"
    done = subprocess.run(
        [sys.executable, "-c", prelude + textwrap.dedent(script), str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_an_import_statement_does_not_run_a_deferred_module(tmp_path: Path) -> None:
    out = _run(
        tmp_path,
        """
        defer("slow")
        import slow
        import slow as again
        print(RUNS, slow.__name__, slow.__spec__.name, again is slow)
        """,
    )
    assert out == "[] slow slow True"


def test_its_first_attribute_runs_it_once(tmp_path: Path) -> None:
    out = _run(
        tmp_path,
        """
        defer("slow")
        import slow
        print(slow.VALUE, slow.VALUE, RUNS, type(slow).__name__)
        """,
    )
    assert out == "42 42 ['slow'] module"


def test_an_except_clause_that_is_reached_runs_it(tmp_path: Path) -> None:
    out = _run(
        tmp_path,
        """
        defer("slow")
        import slow
        try:
            raise ValueError("not slow's")
        except slow.SlowError:
            print("caught as slow's")
        except ValueError:
            print("caught", RUNS)
        """,
    )
    assert out == "caught ['slow']"


def test_a_submodule_import_runs_the_package_first(tmp_path: Path) -> None:
    out = _run(
        tmp_path,
        """
        defer("slow")
        from slow.errors import SlowError
        import slow
        print(RUNS, SlowError is slow.SlowError)
        """,
    )
    assert out == "['slow'] True"


def test_a_module_that_fails_fails_as_its_import_would(tmp_path: Path) -> None:
    out = _run(
        tmp_path,
        """
        defer("broken")
        import broken
        try:
            broken.anything
        except RuntimeError as exc:
            print(exc, "broken" in sys.modules)
        try:
            import broken
        except RuntimeError as exc:
            print("again:", exc)
        """,
    )
    assert out == "broken at import False\nagain: broken at import"


def test_modules_already_imported_or_missing_are_left_alone(tmp_path: Path) -> None:
    out = _run(
        tmp_path,
        """
        import slow
        defer("slow", "no_such_module_here")
        print(type(sys.modules["slow"]).__name__, "no_such_module_here" in sys.modules)
        """,
    )
    assert out == "module False"


def test_the_command_line_starts_without_running_aiodocker_aiohttp_or_yaml() -> None:
    """What start-up imports (every command's modules: the parser knows them all) reads no
    attribute of them at module level."""
    script = (
        "import sys, bridge.cli\n"
        "names = ('aiodocker', 'aiohttp', 'yaml')\n"
        "print([name for name in names if type(sys.modules[name]).__name__ == 'module'])"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
