"""The versioned Bedrock price table: load and validate it, look prices up, cost one invocation.

Prices are data (``prices.csv`` next to this module, USD per 1,000 tokens), keyed by
``base_model_id, source_region, endpoint_scope, token_class, service_tier`` and versioned by
``effective_from``/``effective_to`` (exclusive end; empty = open-ended). An optional override file with
the same columns takes precedence over the shipped rows. Application inference profiles are opaque in
the logs; ``profiles.csv`` (user-editable) maps them to the model they invoke.

A missing price is never 0: the cost is ``None`` with a status saying why (see ``ModelPrice``).
"""

from __future__ import annotations

import csv
import hashlib
import itertools
import math
import re
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date
from importlib import resources
from pathlib import Path

from llmdrift.bedrock.models import ModelRef, resolve_model_id
from llmdrift.core.errors import LlmdriftError

TOKEN_CLASSES = ("input", "output", "cache_read", "cache_write")
ENDPOINT_SCOPES = ("*", "in_region", "geo", "global")
ROW_STATUSES = ("published", "unverified", "conflict", "derived")
SERVICE_TIERS = ("default", "priority", "flex", "reserved")
COLUMNS = (
    "base_model_id",
    "source_region",
    "endpoint_scope",
    "token_class",
    "service_tier",
    "usd_per_1k",
    "effective_from",
    "effective_to",
    "status",
    "source",
)
PROFILE_COLUMNS = ("profile", "base_model_id")
# ModelPrice.status values; cost_usd adds "partial" (a cache price missing for nonzero cache tokens).
PRICE_STATUSES = ("priced", "unpriced", "provisioned", "custom", "unmapped_profile", "unknown_model")
BUILTIN = "builtin"
PRICED_SCOPES = ("in_region", "geo", "global")

_VERSION = re.compile(r"^#\s*llmdrift price table,\s*version\s+([0-9A-Za-z](?:[0-9A-Za-z._+-]*[0-9A-Za-z])?)")
_REGION = re.compile(r"^(\*|[a-z]{2}(-[a-z]+)+-\d+)$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


class PriceError(LlmdriftError, ValueError):
    """A price or profile file is malformed; the message names ``file:line`` and the problem."""


@dataclass(frozen=True)
class PriceRow:
    """One price: USD per 1,000 tokens of one token class, valid from ``effective_from`` (inclusive)."""

    base_model_id: str
    source_region: str
    endpoint_scope: str
    token_class: str
    service_tier: str
    usd_per_1k: float
    effective_from: date
    effective_to: date | None
    status: str
    source: str
    origin: str  # "builtin" or the override file's name

    @property
    def key(self) -> tuple[str, str, str, str, str]:
        """The identity of the price, without its period."""
        return (
            self.base_model_id,
            self.source_region,
            self.endpoint_scope,
            self.token_class,
            self.service_tier,
        )

    @property
    def row_id(self) -> str:
        """``base|region|scope|class|tier|from``, as stored in ``invocation_costs.price_ids``."""
        return "|".join((*self.key, self.effective_from.isoformat()))

    def covers(self, day: date) -> bool:
        """True when ``day`` falls in ``[effective_from, effective_to)``."""
        return self.effective_from <= day and (self.effective_to is None or day < self.effective_to)


class PriceTable:
    """Validated price rows plus the version string recorded with every cost."""

    def __init__(self, rows: Iterable[PriceRow], version: str) -> None:
        self.rows: tuple[PriceRow, ...] = tuple(rows)
        self.version = version
        self._by_model: dict[str, list[PriceRow]] = {}
        for row in self.rows:
            self._by_model.setdefault(row.base_model_id, []).append(row)

    @property
    def models(self) -> frozenset[str]:
        """Every base model id with at least one row."""
        return frozenset(self._by_model)

    def lookup(
        self,
        base_model_id: str,
        region: str | None,
        scope: str | None,
        token_class: str,
        day: date,
        tier: str = "default",
    ) -> PriceRow | None:
        """The price in force on ``day``; the most specific row wins.

        Precedence: override over builtin, then exact region over ``*``, then exact scope over ``*``.
        A ``None`` region or scope matches only ``*`` rows.
        """
        best: PriceRow | None = None
        best_rank = (-1, -1, -1)
        for row in self._by_model.get(base_model_id, ()):
            if row.token_class != token_class or row.service_tier != tier or not row.covers(day):
                continue
            if row.source_region != "*" and row.source_region != region:
                continue
            if row.endpoint_scope != "*" and row.endpoint_scope != scope:
                continue
            rank = (
                int(row.origin != BUILTIN),
                int(row.source_region != "*"),
                int(row.endpoint_scope != "*"),
            )
            if rank > best_rank:
                best, best_rank = row, rank
        return best

    def summary(self) -> list[str]:
        """Lines for a CLI listing: version, model and row counts, rows by status and origin."""
        by_status = Counter(row.status for row in self.rows)
        by_origin = Counter(row.origin for row in self.rows)
        lines = [
            f"price table version {self.version}",
            f"{len(self._by_model)} models, {len(self.rows)} rows",
            "rows by status: " + ", ".join(f"{s}={by_status.get(s, 0)}" for s in ROW_STATUSES),
        ]
        lines += [f"rows from {origin}: {n}" for origin, n in sorted(by_origin.items())]
        return lines


@dataclass(frozen=True)
class ModelPrice:
    """The prices (USD per 1k tokens) that apply to one invocation, or why there are none.

    ``status``: ``priced``, ``unpriced`` (no input or output price, or a model the table lacks),
    ``provisioned`` (billed per model-unit hour), ``custom`` (custom/imported model),
    ``unmapped_profile`` (application profile not in the mapping), ``unknown_model`` (no usable modelId).
    """

    base_model_id: str | None
    status: str
    input: float | None = None
    output: float | None = None
    cache_read: float | None = None
    cache_write: float | None = None
    price_ids: str | None = None


# --- reading ---------------------------------------------------------------------------------------


def _read_text(path: Path | None, default: str) -> tuple[str, str, bytes]:
    """(display name, text, raw bytes) of ``path`` or of the shipped resource ``default``."""
    try:
        if path is None:
            raw = resources.files("llmdrift.cost").joinpath(default).read_bytes()
            name = f"llmdrift/cost/{default}"
        else:
            raw = path.read_bytes()
            name = str(path)
    except OSError as exc:
        raise PriceError(f"{path or default}: cannot read: {exc}") from exc
    try:
        return name, raw.decode("utf-8-sig"), raw
    except UnicodeDecodeError as exc:
        raise PriceError(f"{name}: not UTF-8: {exc}") from exc


def _records(
    text: str, name: str, columns: tuple[str, ...]
) -> tuple[list[str], Iterator[tuple[int, dict[str, str]]]]:
    """Comment lines before the header, and (line number, cells by column) for each data line."""
    lines = text.splitlines()
    comments: list[str] = []
    header_at = None
    for i, line in enumerate(lines):
        stripped = line.strip()
        if stripped.startswith("#"):
            comments.append(stripped)
        elif stripped:
            header_at = i
            break
    if header_at is None:
        raise PriceError(f"{name}: no header line (expected columns {','.join(columns)})")
    header = [c.strip() for c in next(csv.reader([lines[header_at]]))]
    problems = []
    missing = [c for c in columns if c not in header]
    extra = [c for c in header if c not in columns]
    dupes = sorted({c for c in header if header.count(c) > 1})
    if missing:
        problems.append("missing columns " + ",".join(missing))
    if extra:
        problems.append("extra columns " + ",".join(extra))
    if dupes:
        problems.append("repeated columns " + ",".join(dupes))
    if problems:
        raise PriceError(f"{name}:{header_at + 1}: bad header: " + "; ".join(problems))

    first_data = header_at + 1

    def rows() -> Iterator[tuple[int, dict[str, str]]]:
        for i in range(first_data, len(lines)):
            stripped = lines[i].strip()
            if not stripped or stripped.startswith("#"):
                continue
            cells = next(csv.reader([lines[i]]))
            if len(cells) != len(header):
                raise PriceError(f"{name}:{i + 1}: expected {len(header)} fields, got {len(cells)}")
            yield i + 1, {col: cell.strip() for col, cell in zip(header, cells, strict=True)}

    return comments, rows()


def _date(value: str, column: str, where: str) -> date:
    if not _DATE.match(value):
        raise PriceError(f"{where}: bad {column} {value!r} (expected YYYY-MM-DD)")
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise PriceError(f"{where}: bad {column} {value!r} ({exc})") from exc


def _one_of(value: str, allowed: tuple[str, ...], column: str, where: str) -> str:
    if value not in allowed:
        raise PriceError(f"{where}: unknown {column} {value!r} (expected one of {', '.join(allowed)})")
    return value


def _price_row(cells: Mapping[str, str], origin: str, where: str) -> PriceRow:
    base = cells["base_model_id"]
    if not base or any(ch.isspace() for ch in base):
        raise PriceError(f"{where}: bad base_model_id {base!r}")
    region = cells["source_region"]
    if not _REGION.match(region):
        raise PriceError(f"{where}: bad source_region {region!r} (expected * or a region like us-east-1)")
    raw_price = cells["usd_per_1k"]
    try:
        price = float(raw_price)
    except ValueError:
        raise PriceError(f"{where}: usd_per_1k {raw_price!r} is not a number") from None
    if not math.isfinite(price):
        raise PriceError(f"{where}: usd_per_1k {raw_price!r} is not a finite number")
    if price < 0:
        raise PriceError(f"{where}: negative price usd_per_1k {raw_price}")
    start = _date(cells["effective_from"], "effective_from", where)
    end = _date(cells["effective_to"], "effective_to", where) if cells["effective_to"] else None
    if end is not None and end <= start:
        raise PriceError(f"{where}: effective_to {end} is not after effective_from {start}")
    return PriceRow(
        base_model_id=base,
        source_region=region,
        endpoint_scope=_one_of(cells["endpoint_scope"], ENDPOINT_SCOPES, "endpoint_scope", where),
        token_class=_one_of(cells["token_class"], TOKEN_CLASSES, "token_class", where),
        service_tier=_one_of(cells["service_tier"], SERVICE_TIERS, "service_tier", where),
        usd_per_1k=price,
        effective_from=start,
        effective_to=end,
        status=_one_of(cells["status"], ROW_STATUSES, "status", where),
        source=cells["source"],
        origin=origin,
    )


def _check_periods(rows: list[tuple[int, PriceRow]], name: str) -> None:
    """Within one file: no two rows with the same key and start, no overlapping periods per key."""
    by_key: dict[tuple[str, str, str, str, str], list[tuple[int, PriceRow]]] = {}
    for line, row in rows:
        by_key.setdefault(row.key, []).append((line, row))
    for entries in by_key.values():
        entries.sort(key=lambda e: (e[1].effective_from, e[0]))
        for (prev_line, prev), (line, row) in itertools.pairwise(entries):
            if row.effective_from == prev.effective_from:
                raise PriceError(f"{name}:{line}: duplicate row {row.row_id} (also on line {prev_line})")
            if prev.effective_to is None or prev.effective_to > row.effective_from:
                until = prev.effective_to.isoformat() if prev.effective_to else "open-ended"
                raise PriceError(
                    f"{name}:{line}: period from {row.effective_from} overlaps line {prev_line} "
                    f"({prev.effective_from} to {until}) for {'|'.join(row.key)}"
                )


def _parse_prices(text: str, name: str, origin: str) -> tuple[list[str], list[PriceRow]]:
    comments, records = _records(text, name, COLUMNS)
    parsed = [(line, _price_row(cells, origin, f"{name}:{line}")) for line, cells in records]
    _check_periods(parsed, name)
    return comments, [row for _, row in parsed]


def load_prices(path: Path | None = None, override: Path | None = None) -> PriceTable:
    """Load and validate the price table (default: the shipped ``prices.csv``) and an optional override.

    The main file must carry a ``# llmdrift price table, version <v>`` comment; with an override the
    version becomes ``<v>+<first 8 hex of the override file's sha256>``. Raises ``PriceError``.
    """
    name, text, _ = _read_text(path, "prices.csv")
    comments, rows = _parse_prices(text, name, BUILTIN)
    versions = [m.group(1) for m in map(_VERSION.match, comments) if m]
    if not versions:
        raise PriceError(f"{name}: no '# llmdrift price table, version <version>' comment before the header")
    version = versions[0]
    if override is not None:
        o_name, o_text, o_raw = _read_text(override, "")
        _, o_rows = _parse_prices(o_text, o_name, override.name)
        rows += o_rows
        version = f"{version}+{hashlib.sha256(o_raw).hexdigest()[:8]}"
    return PriceTable(rows, version)


def load_profiles(path: Path | None = None) -> dict[str, str]:
    """Application-inference-profile mapping ``profile -> base_model_id`` (default: shipped ``profiles.csv``).

    ``profile`` is a full ARN or the id after the last '/'; ``base_model_id`` a bare model id or a
    geo/global profile id. Raises ``PriceError`` on a duplicate profile or an empty/unusable model id.
    """
    name, text, _ = _read_text(path, "profiles.csv")
    _, records = _records(text, name, PROFILE_COLUMNS)
    mapping: dict[str, str] = {}
    first_line: dict[str, int] = {}
    for line, cells in records:
        where = f"{name}:{line}"
        profile, base = cells["profile"], cells["base_model_id"]
        if not profile:
            raise PriceError(f"{where}: empty profile")
        if not base:
            raise PriceError(f"{where}: empty base_model_id for profile {profile!r}")
        if profile in mapping:
            raise PriceError(f"{where}: duplicate profile {profile!r} (also on line {first_line[profile]})")
        if resolve_model_id(base).endpoint_scope not in PRICED_SCOPES:
            raise PriceError(
                f"{where}: base_model_id {base!r} is not a model id or a geo/global inference-profile id"
            )
        mapping[profile] = base
        first_line[profile] = line
    return mapping


# --- pricing ---------------------------------------------------------------------------------------


def profile_target(profiles: Mapping[str, str], model_id: str | None) -> str | None:
    """The model an application inference profile invokes (by full ARN or by its id), if mapped."""
    if not model_id:
        return None
    return profiles.get(model_id) or profiles.get(model_id.rsplit("/", 1)[-1])


def resolve_endpoint(profiles: Mapping[str, str], model_id: str | None) -> ModelRef:
    """The model an invocation ran on, from its ``modelId``: ``resolve_model_id``, and for an application
    inference profile the model it maps to (``profiles``; unmapped, it stays an application profile).

    The one resolution: ingest stores its ``base_model_id`` and ``provider`` in ``invocations``, pricing
    prices the endpoint it names, and drift slices by the stored model.
    """
    ref = resolve_model_id(model_id)
    if ref.endpoint_scope == "application_profile":
        target = profile_target(profiles, model_id)
        if target is not None:
            return resolve_model_id(target)
    return ref


def price_for(
    table: PriceTable,
    profiles: Mapping[str, str],
    model_id: str | None,
    base_model_id: str | None,
    endpoint_scope: str | None,
    region: str | None,
    day: date,
) -> ModelPrice:
    """The prices for one invocation of ``model_id`` (resolved to base/scope) in ``region`` on ``day``.

    ``base_model_id``/``endpoint_scope`` come from ``resolve_model_id``; when ``endpoint_scope`` is None
    both are resolved here from ``model_id``. An application profile is priced as the model it maps to;
    a bare mapped model id is priced at scope ``in_region`` (assumption: billing follows the source
    region, spec 3.1/3.2; a profile wrapping a geo/global system profile should map to that profile id).
    Provisioned and custom models get no per-token price (not 0).
    """
    if endpoint_scope is None:
        ref = resolve_model_id(model_id)
        base_model_id, endpoint_scope = ref.base_model_id, ref.endpoint_scope
    if endpoint_scope == "provisioned":
        return ModelPrice(base_model_id, "provisioned")
    if endpoint_scope == "custom":
        return ModelPrice(base_model_id, "custom")
    if endpoint_scope == "application_profile":
        ref = resolve_endpoint(profiles, model_id)
        if ref.endpoint_scope == "application_profile":
            return ModelPrice(None, "unmapped_profile")
        base_model_id, endpoint_scope = ref.base_model_id, ref.endpoint_scope
    if not base_model_id or endpoint_scope not in PRICED_SCOPES:
        return ModelPrice(base_model_id, "unknown_model")
    found = {cls: table.lookup(base_model_id, region, endpoint_scope, cls, day) for cls in TOKEN_CLASSES}
    if found["input"] is None or found["output"] is None:
        return ModelPrice(base_model_id, "unpriced")

    def usd(cls: str) -> float | None:
        row = found[cls]
        return None if row is None else row.usd_per_1k

    return ModelPrice(
        base_model_id,
        "priced",
        input=usd("input"),
        output=usd("output"),
        cache_read=usd("cache_read"),
        cache_write=usd("cache_write"),
        price_ids=";".join(row.row_id for row in found.values() if row is not None),
    )


def cost_usd(
    price: ModelPrice,
    input_tokens: int | None,
    output_tokens: int | None,
    cache_read_tokens: int | None,
    cache_write_tokens: int | None,
) -> tuple[float | None, str]:
    """(cost in USD, status): ``sum(tokens * usd_per_1k) / 1000``; None tokens count as 0.

    Not priced -> ``(None, price.status)``. Cache tokens > 0 without a cache price -> the cost of the
    rest with status ``partial``.
    """
    if price.status != "priced" or price.input is None or price.output is None:
        return None, price.status if price.status != "priced" else "unpriced"
    total = (input_tokens or 0) * price.input + (output_tokens or 0) * price.output
    status = "priced"
    for tokens, usd_per_1k in (
        (cache_read_tokens, price.cache_read),
        (cache_write_tokens, price.cache_write),
    ):
        if usd_per_1k is not None:
            total += (tokens or 0) * usd_per_1k
        elif (tokens or 0) > 0:
            status = "partial"
    return total / 1000, status
