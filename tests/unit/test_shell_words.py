"""The blocking docker form's word splitting, checked against a real POSIX shell (``/bin/sh``)
as the oracle: what it prints for ``set -- LINE`` is what the splitter must give."""

from __future__ import annotations

import random
import subprocess

import pytest

from bridge.processes.shell_words import UnbalancedQuote, split_words

# The line ends the script, so a trailing backslash is the line's last character for sh too.
_ORACLE = "f() { for w do printf '%s\\0' \"$w\"; done; }; f "


def shell_words(line: str) -> list[str] | None:
    """The words ``sh`` makes of ``line`` (``None`` when it refuses the line)."""
    done = subprocess.run(["sh", "-c", _ORACLE + line], capture_output=True, check=False)
    if done.returncode != 0:
        return None
    return done.stdout.decode().split("\0")[:-1]


CASES = [
    ('volume ls --format="{{ .Name }}"', ["volume", "ls", "--format={{ .Name }}"]),
    ("run --rm --label com.x=true img true", ["run", "--rm", "--label", "com.x=true", "img", "true"]),
    (
        'run --mount type=bind,source="/some/dir",target=/x img',
        ["run", "--mount", "type=bind,source=/some/dir,target=/x", "img"],
    ),
    ("run --label 'k=\"v\"' img", ["run", "--label", 'k="v"', "img"]),
    ("ps '' x", ["ps", "", "x"]),
    ("image inspect img", ["image", "inspect", "img"]),
    ("\"a\"b'c'", ["abc"]),
    ("a\\\nb", ["ab"]),
    ('"a\\\nb"', ["ab"]),
    ("'a\\\nb'", ["a\\\nb"]),
    ('"\\x\\$\\"\\\\"', ['\\x$"\\']),
    ("a\\ b \\'c", ["a b", "'c"]),
    ("trailing\\", ["trailing\\"]),
    ("  spaced\t\tout\n", ["spaced", "out"]),
    ("a;b|c&d>e", ["a;b|c&d>e"]),
    ("", []),
    ("''", [""]),
]


@pytest.mark.parametrize(("line", "words"), CASES)
def test_words_as_a_posix_shell_makes_them(line: str, words: list[str]) -> None:
    assert split_words(line) == words
    if "\n" not in line.replace("\\\n", "").strip() and ";" not in line:
        assert shell_words(line) == words


@pytest.mark.parametrize(
    ("line", "quote", "position"),
    [("ps --format '{{.Name}}", "single", 12), ('a "b', "double", 2), ('a "b\\"\'', "double", 2)],
)
def test_an_unclosed_quote_is_refused_where_it_opens(line: str, quote: str, position: int) -> None:
    with pytest.raises(UnbalancedQuote) as refused:
        split_words(line)
    assert (refused.value.quote, refused.value.position) == (quote, position)
    assert f"character {position + 1}" in str(refused.value)
    assert shell_words(line) is None


def test_random_lines_split_as_sh_splits_them() -> None:
    """Lines of quotes, backslashes, blanks and letters (no character sh would expand or treat
    as an operator), compared with sh one by one."""
    pieces = ["a", "b", " ", "\t", "'", '"', "\\", "\\\\", "\\'", '\\"']
    chance = random.Random(13)
    for _ in range(300):
        line = "".join(chance.choice(pieces) for _ in range(chance.randint(0, 12)))
        expected = shell_words(line)
        if expected is None:
            with pytest.raises(UnbalancedQuote):
                split_words(line)
        else:
            assert split_words(line) == expected, repr(line)


def test_a_huge_line_splits_in_one_pass() -> None:
    line = " ".join(["'x y'"] * 200_000)
    assert split_words(line) == ["x y"] * 200_000
