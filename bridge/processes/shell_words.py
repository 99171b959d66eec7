"""A command line split into words as a POSIX shell splits it, without a shell.

Docker Desktop's blocking ``docker.cli.exec`` joins ``cmd`` and ``args`` with spaces and hands
the line to a shell-like parser (docker/extensions-sdk #212 shows the joined string, #303 that
the streaming form does not do this), and published extensions quote their arguments for it.
``split_words`` does the word splitting and quote removal of POSIX (Shell Command Language,
2.2 Quoting and 2.6.7 Quote Removal) and nothing else: no parameter, command or arithmetic
expansion, no globbing, no operators (``;``, ``|``, ``&``, ``>`` are ordinary characters), no
comments. Blanks and newlines separate words.
"""

from __future__ import annotations

_BLANKS = frozenset(" \t\n")
# Inside double quotes a backslash escapes only these; before anything else it is kept.
_ESCAPED_IN_DOUBLE = frozenset('$`"\\\n')


class UnbalancedQuote(ValueError):
    """A quote opened and never closed; ``position`` is the index of the opening quote."""

    def __init__(self, quote: str, position: int) -> None:
        super().__init__(f"the {quote} quote at character {position + 1} is never closed")
        self.quote = quote
        self.position = position


def split_words(line: str) -> list[str]:
    """The words of ``line``: quotes removed, ``''`` an empty word, ``"a"b'c'`` one word ``abc``,
    backslash-newline removed (outside single quotes). Raises ``UnbalancedQuote``."""
    words: list[str] = []
    word: list[str] = []
    in_word = False
    index = 0
    end = len(line)
    while index < end:
        char = line[index]
        if char in _BLANKS:
            if in_word:
                words.append("".join(word))
                word.clear()
                in_word = False
            index += 1
            continue
        in_word = True
        if char == "\\":
            if index + 1 < end:
                index = _escaped(line, index, word)
            else:
                word.append(char)
                index += 1
        elif char == "'":
            close = line.find("'", index + 1)
            if close < 0:
                raise UnbalancedQuote("single", index)
            word.append(line[index + 1 : close])
            index = close + 1
        elif char == '"':
            index = _double_quoted(line, index, word)
        else:
            word.append(char)
            index += 1
    if in_word:
        words.append("".join(word))
    return words


def _double_quoted(line: str, opening: int, word: list[str]) -> int:
    """Appends the text of the double-quoted part opened at ``opening``; returns the index after
    its closing quote."""
    index = opening + 1
    end = len(line)
    while index < end:
        char = line[index]
        if char == '"':
            return index + 1
        if char == "\\" and index + 1 < end and line[index + 1] in _ESCAPED_IN_DOUBLE:
            index = _escaped(line, index, word)
        else:
            word.append(char)
            index += 1
    raise UnbalancedQuote("double", opening)


def _escaped(line: str, backslash: int, word: list[str]) -> int:
    """Appends the character the backslash at ``backslash`` escapes (a backslash-newline is no
    character at all); returns the index after both."""
    if line[backslash + 1] != "\n":
        word.append(line[backslash + 1])
    return backslash + 2
