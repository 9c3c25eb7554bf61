"""Case-insensitive keyword patterns that stay fast on thousands of CI lines.

Python's re tries every branch of an alternation at every position of the text, and it can
only skip a branch on its first character when that character is a case-sensitive literal.
A long IGNORECASE alternation of `\\bword\\b` branches (the stage and cost tables) is therefore
slow. A Keywords pattern is written in lower case, its whole words share one leading `\\b`,
and it is searched case-sensitively in the lower-cased text, so the matcher skips a branch on
its first character and tests `\\b` once per position.

For ASCII text, lower-casing the text is exactly what IGNORECASE does to it. Other text
(where `str.lower` and IGNORECASE disagree: "ſ", "K", "İ") is searched with the IGNORECASE
compile of the same pattern, so the answer never depends on the path taken.
"""

from __future__ import annotations

import re

# An upper-case letter that is not an escape (\S, \W, \D, \B, \A, \Z): the lower-cased text has none.
_UPPER = re.compile(r"(?<!\\)[A-Z]")


class Keywords:
    """search(text) is True where re.search(pattern, text, re.IGNORECASE) finds a match, for

        pattern = \\b(?:(?:WORDS)\\b|STARTS)|ANYWHERE|(?-i:EXACT)

    WORDS are whole words (`trivy`, `npm audit`, `mvn\\b.*\\bpackage`), STARTS begin at a word
    boundary and may end anywhere (`sonar`, `make\\s*$`), ANYWHERE are matched as written, all
    three in lower case; EXACT is matched case-sensitively (`Maven@\\d`). Each is a `|` list."""

    __slots__ = ("pattern", "_lower", "_exact", "_folded")

    def __init__(self, words: str = "", *, starts: str = "", anywhere: str = "", exact: str = "") -> None:
        lower = "|".join(
            part
            for part in (
                _bounded(words, starts),
                anywhere,
            )
            if part
        )
        if _UPPER.search(lower):
            raise ValueError(f"write keyword patterns in lower case: {lower!r}")
        self.pattern = "|".join(part for part in (lower, f"(?-i:{exact})" if exact else "") if part)
        self._lower = re.compile(lower) if lower else None
        self._exact = re.compile(exact) if exact else None
        self._folded: re.Pattern[str] | None = None  # the IGNORECASE compile, made on first use

    def search(self, text: str) -> bool:
        if not text.isascii():
            if self._folded is None:
                self._folded = re.compile(self.pattern, re.IGNORECASE)
            return self._folded.search(text) is not None
        if self._lower is not None and self._lower.search(text.lower()) is not None:
            return True
        return self._exact is not None and self._exact.search(text) is not None

    def __repr__(self) -> str:
        return f"Keywords({self.pattern!r})"


def _bounded(words: str, starts: str) -> str:
    if words and starts:
        return rf"\b(?:(?:{words})\b|{starts})"
    if words:
        return rf"\b(?:{words})\b"
    return rf"\b(?:{starts})" if starts else ""
