"""Did-you-mean: the known name closest to one that was typed, for a message.

Profile names (``-p tss``), broker names (``--broker quantowr``), setting keys
(``environmnet``), column names and commands all ask here, so that every message suggests in
the same way: one candidate at most, only when it is close (``difflib``'s ratio of at least
0.6, case ignored), never the name itself.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable

CUTOFF = 0.6


def closest(word: str, candidates: Iterable[str]) -> str | None:
    """The candidate closest to ``word``, or None when none is close enough."""
    known = [c for c in dict.fromkeys(candidates) if c != word]
    by_folded = {c.casefold(): c for c in reversed(known)}
    found = difflib.get_close_matches(word.casefold(), list(by_folded), n=1, cutoff=CUTOFF)
    return by_folded[found[0]] if found else None


def did_you_mean(word: str, candidates: Iterable[str], *, quote: bool = True) -> str:
    """``"; did you mean 'ts'?"`` (to append to a message), or "" when nothing is close."""
    found = closest(word, candidates)
    if found is None:
        return ""
    return f"; did you mean {found!r}?" if quote else f"; did you mean {found}?"
