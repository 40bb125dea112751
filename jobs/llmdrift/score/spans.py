"""Text spans the rule signals mask before a head reads the words: quotations, and a replacer."""

from __future__ import annotations

import re

# A quotation of up to 300 characters on one line, straight or typographic quotes.
QUOTED = re.compile(r'"[^"\n]{1,300}"|\u201c[^\u201d\n]{1,300}\u201d')


def replace_spans(text: str, spans: list[tuple[int, int, str]]) -> str:
    """``text`` with each (start, end, word) span replaced by its word; a span overlapping an earlier one
    is skipped."""
    out, at = [], 0
    for start, end, word in sorted(spans):
        if start < at:
            continue
        out += [text[at:start], word]
        at = end
    out.append(text[at:])
    return "".join(out)
