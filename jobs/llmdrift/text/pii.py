"""Personal data in text: what kinds, how many, and redaction.

Detectors are regular expressions with validation where a format allows it (Luhn for card numbers,
octet ranges for IPv4, context words for AWS secret keys). Types: email, phone, credit_card, us_ssn,
ipv4, aws_access_key, aws_secret_key. Redaction replaces each match with ``[TYPE]``; the placeholders are
counted as found PII, so counts survive redaction.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

MAX_SCAN_CHARS = 100_000  # texts are scanned up to this length


def luhn_ok(digits: str) -> bool:
    total, parity = 0, len(digits) % 2
    for i, ch in enumerate(digits):
        d = ord(ch) - 48
        if i % 2 == parity:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def _card_ok(match: str) -> bool:
    digits = re.sub(r"[ -]", "", match)
    return 13 <= len(digits) <= 19 and luhn_ok(digits)


def _ipv4_ok(match: str) -> bool:
    return all(int(part) <= 255 for part in match.split("."))


def _ssn_ok(match: str) -> bool:
    area, group, serial = match.split("-")
    return area != "000" and group != "00" and serial != "0000"


_DIGITS = re.compile(r"\d\D?\d\D?\d")


@dataclass(frozen=True)
class Detector:
    kind: str
    pattern: re.Pattern[str]
    valid: Callable[[str], bool] | None = None
    hint: re.Pattern[str] | None = None  # cheap test: a text without it cannot match (skips the full scan)


DETECTORS: tuple[Detector, ...] = (
    Detector(
        "email",
        re.compile(r"\b[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}\b"),
        hint=re.compile("@"),
    ),
    Detector("credit_card", re.compile(r"(?<![\d-])(?:\d[ -]?){12,18}\d(?![\d-])"), _card_ok, _DIGITS),
    Detector("us_ssn", re.compile(r"(?<![\d-])\d{3}-\d{2}-\d{4}(?![\d-])"), _ssn_ok, _DIGITS),
    Detector(
        "phone",
        re.compile(
            r"(?<![\w+])(?:\+?1[-.\s]?)?(?:\(\d{3}\)\s?|\d{3}[-.\s])\d{3}[-.\s]\d{4}(?!\d)"
            r"|(?<![\w+])\+(?:[2-9]\d{0,2})[-.\s]?\d{1,4}(?:[-.\s]\d{2,4}){2,3}(?!\d)"
        ),
        hint=_DIGITS,
    ),
    Detector(
        "ipv4", re.compile(r"(?<![\d.])(?:\d{1,3}\.){3}\d{1,3}(?![\d.])"), _ipv4_ok, re.compile(r"\d\.\d")
    ),
    Detector(
        "aws_access_key",
        re.compile(r"\b(?:AKIA|ASIA|AIDA|AROA)[0-9A-Z]{16}\b"),
        hint=re.compile("AKIA|ASIA|AIDA|AROA"),
    ),
    Detector(
        "aws_secret_key",
        re.compile(
            r"(?i)(?:aws_?secret_?(?:access_?)?key|secret_?access_?key)\W{0,5}[A-Za-z0-9/+=]{40}(?![A-Za-z0-9/+=])"
        ),
        hint=re.compile("(?i)secret"),
    ),
)
PII_TYPES = tuple(d.kind for d in DETECTORS)
_PLACEHOLDER = re.compile(r"\[(" + "|".join(k.upper() for k in PII_TYPES) + r")\]")


def find(
    text: str, limit: int | None = MAX_SCAN_CHARS, placeholders: bool = True
) -> list[tuple[str, int, int]]:
    """(type, start, end) of every match in the first ``limit`` characters (None: all), earlier detectors
    winning overlaps (a card is not also a phone). Redaction placeholders (``[EMAIL]``) count as their type,
    so metrics of redacted text still see the personal data that was there; ``placeholders=False`` finds
    only personal data itself (the leak scan of redacted output)."""
    scan = text if limit is None else text[:limit]
    taken: list[tuple[int, int]] = []
    found: list[tuple[str, int, int]] = []
    for detector in DETECTORS:
        if detector.hint is not None and not detector.hint.search(scan):
            continue
        for m in detector.pattern.finditer(scan):
            start, end = m.span()
            if detector.valid is not None and not detector.valid(m.group(0)):
                continue
            if any(start < e and s < end for s, e in taken):
                continue
            taken.append((start, end))
            found.append((detector.kind, start, end))
    for m in _PLACEHOLDER.finditer(scan) if placeholders and "[" in scan else ():
        found.append((m.group(1).lower(), m.start(), m.end()))
    return sorted(found, key=lambda f: f[1])


def summarize(text: str | None) -> tuple[int | None, list[str] | None]:
    """(count, sorted distinct types); (None, None) for a null text."""
    if text is None:
        return None, None
    found = find(text)
    return len(found), sorted({kind for kind, _, _ in found})


def redact(text: str | None) -> str | None:
    if text is None:
        return None
    out, last = [], 0
    for kind, start, end in find(text, limit=None):  # redaction reads the whole text
        if start < last:
            continue
        out.append(text[last:start])
        out.append(f"[{kind.upper()}]")
        last = end
    out.append(text[last:])
    return "".join(out)
