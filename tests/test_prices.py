"""The versioned price table: loading, validation, lookup precedence, model-id forms and hand-computed costs."""

from __future__ import annotations

import hashlib
from datetime import date
from pathlib import Path

import pytest

from llmdrift.bedrock.models import resolve_model_id
from llmdrift.cost.prices import (
    TOKEN_CLASSES,
    ModelPrice,
    PriceError,
    PriceTable,
    cost_usd,
    load_prices,
    load_profiles,
    price_for,
)
from llmdrift.generate.catalog import CALLERS, MODELS, model_id

DAY = date(2026, 3, 15)
HEADER = "base_model_id,source_region,endpoint_scope,token_class,service_tier,usd_per_1k,effective_from,effective_to,status,source"
VERSION_LINE = "# llmdrift price table, version 2099-01-01 test table"
SONNET_35 = "anthropic.claude-3-5-sonnet-20240620-v1:0"
SONNET_45 = "anthropic.claude-sonnet-4-5-20250929-v1:0"
HAIKU_45 = "anthropic.claude-haiku-4-5-20251001-v1:0"
ACCOUNT_ARN = "arn:aws:bedrock:us-east-1:111122223333"


@pytest.fixture(scope="module")
def table() -> PriceTable:
    return load_prices()


@pytest.fixture(scope="module")
def profiles() -> dict[str, str]:
    return load_profiles()


def _price(
    table: PriceTable, profiles: dict[str, str], mid: str | None, region: str = "us-east-1"
) -> ModelPrice:
    """Resolve like the pipeline does, then price."""
    ref = resolve_model_id(mid)
    return price_for(table, profiles, mid, ref.base_model_id, ref.endpoint_scope, region, DAY)


def _write(tmp_path: Path, name: str, *rows: str, header: str = HEADER, version: bool = True) -> Path:
    path = tmp_path / name
    lines = ([VERSION_LINE] if version else []) + [header, *rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


# --- the shipped files -----------------------------------------------------------------------------


def test_shipped_table_validates_and_summarises(table: PriceTable) -> None:
    assert table.version == "2026-11-01"
    assert len(table.models) == 47
    assert len(table.rows) == 140
    assert {r.origin for r in table.rows} == {"builtin"}
    assert {r.token_class for r in table.rows} == set(TOKEN_CLASSES)
    assert all(r.effective_from == date(2024, 1, 1) and r.effective_to is None for r in table.rows)
    assert table.summary() == [
        "price table version 2026-11-01",
        "47 models, 140 rows",
        "rows by status: published=55, unverified=67, conflict=10, derived=8",
        "rows from builtin: 140",
    ]
    # The spec has no price for Llama 2; the table does not invent one.
    assert "meta.llama2-13b-chat-v1" not in table.models


def test_shipped_table_marks_conflicts_and_derived_rows(table: PriceTable) -> None:
    premier = table.lookup("amazon.titan-text-premier-v1:0", "us-east-1", "in_region", "input", DAY)
    assert premier is not None
    assert (premier.usd_per_1k, premier.status) == (0.0005, "conflict")
    assert "0.0008/0.0024" in premier.source  # the other figure is named
    plus = table.lookup("cohere.command-r-plus-v1:0", "us-east-1", "in_region", "output", DAY)
    assert plus is not None
    assert (plus.usd_per_1k, plus.status) == (0.015, "conflict")
    assert "0.0025/0.01" in plus.source
    nova_write = table.lookup("amazon.nova-pro-v1:0", "us-east-1", "geo", "cache_write", DAY)
    assert nova_write is not None
    assert (nova_write.usd_per_1k, nova_write.status) == (0.0, "derived")
    # Haiku 4.5 geo cache = 0.1x / 1.25x the geo input 0.0011
    geo_read = table.lookup(HAIKU_45, "us-east-1", "geo", "cache_read", DAY)
    geo_write = table.lookup(HAIKU_45, "us-east-1", "geo", "cache_write", DAY)
    assert geo_read is not None
    assert geo_write is not None
    assert geo_read.usd_per_1k == pytest.approx(0.00011)
    assert geo_write.usd_per_1k == pytest.approx(0.001375)
    assert geo_read.status == geo_write.status == "derived"


def test_shipped_profiles(profiles: dict[str, str]) -> None:
    assert profiles == {"k3x9q2lmw7ab": SONNET_45}


def test_generator_models_covered_except_unpriced(table: PriceTable) -> None:
    uncovered = {
        base
        for base in MODELS
        if table.lookup(base, "us-east-1", "in_region", "input", DAY) is None
        or table.lookup(base, "us-east-1", "in_region", "output", DAY) is None
    }
    assert uncovered == {"meta.llama2-13b-chat-v1"}
    # Every model that supports caching in the generator has both cache prices.
    caching = {base for base, spec in MODELS.items() if spec.caches}
    for base in caching:
        for cls in ("cache_read", "cache_write"):
            assert table.lookup(base, "us-east-1", "in_region", cls, DAY) is not None, (base, cls)


def test_every_generator_model_use_prices_like_the_pipeline(
    table: PriceTable, profiles: dict[str, str]
) -> None:
    statuses: dict[tuple[str, str], str] = {}
    for caller in CALLERS:
        for use in caller.models:
            mid = model_id(use, caller.region, caller.account)
            statuses[(caller.name, use.base_id)] = _price(table, profiles, mid, caller.region).status
    not_priced = {key: status for key, status in statuses.items() if status != "priced"}
    assert not_priced == {
        ("med-notes-summarizer", SONNET_35): "provisioned",
        ("creative-studio", "meta.llama2-13b-chat-v1"): "unpriced",
    }


# --- costs, hand computed -------------------------------------------------------------------------


def test_claude_cost_per_token_class_with_cache(table: PriceTable, profiles: dict[str, str]) -> None:
    price = _price(table, profiles, SONNET_35)
    assert price == ModelPrice(
        SONNET_35,
        "priced",
        input=0.003,
        output=0.015,
        cache_read=0.0003,
        cache_write=0.00375,
        price_ids=";".join(f"{SONNET_35}|*|*|{cls}|default|2024-01-01" for cls in TOKEN_CLASSES),
    )
    # input 1000 * 0.003 = 3.0; output 500 * 0.015 = 7.5; cache read 2000 * 0.0003 = 0.6;
    # cache write 400 * 0.00375 = 1.5; (3.0 + 7.5 + 0.6 + 1.5) / 1000 = 0.0126
    cost, status = cost_usd(price, 1000, 500, 2000, 400)
    assert status == "priced"
    assert cost == pytest.approx(0.0126)
    # each class alone
    assert cost_usd(price, 1000, 0, 0, 0)[0] == pytest.approx(0.003)
    assert cost_usd(price, 0, 500, 0, 0)[0] == pytest.approx(0.0075)
    assert cost_usd(price, 0, 0, 2000, 0)[0] == pytest.approx(0.0006)
    assert cost_usd(price, 0, 0, 0, 400)[0] == pytest.approx(0.0015)


def test_nova_cache_read_and_free_cache_write(table: PriceTable, profiles: dict[str, str]) -> None:
    price = _price(table, profiles, "us.amazon.nova-micro-v1:0")
    assert (price.status, price.input, price.output) == ("priced", 0.000035, 0.00014)
    assert (price.cache_read, price.cache_write) == (0.00000875, 0.0)
    # input 10000 * 0.000035 = 0.35; output 2000 * 0.00014 = 0.28; cache read 40000 * 0.00000875 = 0.35;
    # cache write 5000 * 0 = 0; (0.35 + 0.28 + 0.35 + 0) / 1000 = 0.00098
    cost, status = cost_usd(price, 10000, 2000, 40000, 5000)
    assert status == "priced"
    assert cost == pytest.approx(0.00098)


def test_missing_cache_price_gives_partial(table: PriceTable, profiles: dict[str, str]) -> None:
    price = _price(table, profiles, "anthropic.claude-v2:1")
    assert (price.status, price.cache_read, price.cache_write) == ("priced", None, None)
    # input 100 * 0.008 = 0.8; output 50 * 0.024 = 1.2; cache tokens unpriced -> (0.8 + 1.2) / 1000
    cost, status = cost_usd(price, 100, 50, 300, None)
    assert status == "partial"
    assert cost == pytest.approx(0.002)
    # no cache tokens: a missing cache price does not matter
    cost, status = cost_usd(price, 100, 50, 0, None)
    assert status == "priced"
    assert cost == pytest.approx(0.002)
    # None tokens count as 0
    assert cost_usd(price, None, None, None, None) == (0.0, "priced")


@pytest.mark.parametrize(
    ("mid", "base", "status", "usd_in", "usd_out", "cost"),
    [
        # bare id -> in_region; 1000 in * 0.0008 + 1000 out * 0.004 = 4.8 / 1000
        (
            "anthropic.claude-3-5-haiku-20241022-v1:0",
            "anthropic.claude-3-5-haiku-20241022-v1:0",
            "priced",
            0.0008,
            0.004,
            0.0048,
        ),
        # geo profile id: same * row
        (
            "us.anthropic.claude-3-5-haiku-20241022-v1:0",
            "anthropic.claude-3-5-haiku-20241022-v1:0",
            "priced",
            0.0008,
            0.004,
            0.0048,
        ),
        # global profile id: (1.0 + 5.0) / 1000
        (f"global.{HAIKU_45}", HAIKU_45, "priced", 0.001, 0.005, 0.006),
        # foundation-model ARN: (0.8 + 3.2) / 1000
        (
            "arn:aws:bedrock:us-east-1::foundation-model/amazon.nova-pro-v1:0",
            "amazon.nova-pro-v1:0",
            "priced",
            0.0008,
            0.0032,
            0.004,
        ),
        # inference-profile ARN (geo): (0.035 + 0.14) / 1000
        (
            f"{ACCOUNT_ARN}:inference-profile/us.amazon.nova-micro-v1:0",
            "amazon.nova-micro-v1:0",
            "priced",
            0.000035,
            0.00014,
            0.000175,
        ),
        # mapped application profile -> Sonnet 4.5 in-region (regional price): (3.3 + 16.5) / 1000
        (
            f"{ACCOUNT_ARN}:application-inference-profile/k3x9q2lmw7ab",
            SONNET_45,
            "priced",
            0.0033,
            0.0165,
            0.0198,
        ),
        (
            f"{ACCOUNT_ARN}:application-inference-profile/nosuchprofile",
            None,
            "unmapped_profile",
            None,
            None,
            None,
        ),
        (f"{ACCOUNT_ARN}:provisioned-model/a1b2c3d4e5f6", None, "provisioned", None, None, None),
        (
            f"{ACCOUNT_ARN}:custom-model/amazon.titan-text-express-v1/abc123",
            "amazon.titan-text-express-v1",
            "custom",
            None,
            None,
            None,
        ),
        (f"{ACCOUNT_ARN}:imported-model/xyz789", None, "custom", None, None, None),
        (f"{ACCOUNT_ARN}:prompt-router/r1", None, "unknown_model", None, None, None),
        (None, None, "unknown_model", None, None, None),
        # a model the table does not know: unpriced, never 0
        ("meta.llama2-13b-chat-v1", "meta.llama2-13b-chat-v1", "unpriced", None, None, None),
        ("acme.brand-new-model-v1:0", "acme.brand-new-model-v1:0", "unpriced", None, None, None),
    ],
)
def test_model_id_forms(
    table: PriceTable,
    profiles: dict[str, str],
    mid: str | None,
    base: str | None,
    status: str,
    usd_in: float | None,
    usd_out: float | None,
    cost: float | None,
) -> None:
    price = _price(table, profiles, mid)
    assert (price.base_model_id, price.status, price.input, price.output) == (base, status, usd_in, usd_out)
    got, cost_status = cost_usd(price, 1000, 1000, 0, 0)
    assert cost_status == status
    if cost is None:
        assert got is None
        assert price.price_ids is None
    else:
        assert got == pytest.approx(cost)


def test_price_for_resolves_when_scope_not_given(table: PriceTable, profiles: dict[str, str]) -> None:
    resolved = price_for(table, profiles, f"eu.{HAIKU_45}", None, None, "eu-west-1", DAY)
    assert (resolved.base_model_id, resolved.input, resolved.output) == (HAIKU_45, 0.0011, 0.0055)


def test_sonnet_45_geo_and_global_prices_differ(table: PriceTable, profiles: dict[str, str]) -> None:
    glob = _price(table, profiles, f"global.{SONNET_45}")
    geo = _price(table, profiles, f"us.{SONNET_45}")
    assert (glob.input, glob.output, glob.cache_read, glob.cache_write) == (0.003, 0.015, 0.0003, 0.00375)
    assert (geo.input, geo.output, geo.cache_read, geo.cache_write) == (0.0033, 0.0165, 0.00033, 0.004125)
    assert glob.price_ids is not None
    assert geo.price_ids is not None
    assert f"{SONNET_45}|*|global|input|default|2024-01-01" in glob.price_ids.split(";")
    assert f"{SONNET_45}|*|geo|input|default|2024-01-01" in geo.price_ids.split(";")
    # 1000 in + 1000 out: global (3 + 15) / 1000 = 0.018; geo (3.3 + 16.5) / 1000 = 0.0198 (10% more)
    assert cost_usd(glob, 1000, 1000, 0, 0)[0] == pytest.approx(0.018)
    assert cost_usd(geo, 1000, 1000, 0, 0)[0] == pytest.approx(0.0198)


def test_profile_mapping_by_full_arn_and_to_geo_profile(table: PriceTable) -> None:
    arn = f"{ACCOUNT_ARN}:application-inference-profile/p1"
    profiles = {arn: SONNET_35, "p2": f"us.{SONNET_45}"}
    by_arn = _price(table, profiles, arn)
    assert (by_arn.base_model_id, by_arn.status, by_arn.input) == (SONNET_35, "priced", 0.003)
    # the full-ARN entry does not match the same id in another account
    other = _price(table, profiles, "arn:aws:bedrock:us-east-1:999999999999:application-inference-profile/p1")
    assert other.status == "unmapped_profile"
    # mapped to a geo system profile -> priced at geo scope
    geo = _price(table, profiles, f"{ACCOUNT_ARN}:application-inference-profile/p2")
    assert (geo.base_model_id, geo.input) == (SONNET_45, 0.0033)
    assert geo.price_ids is not None
    assert f"{SONNET_45}|*|geo|input|default|2024-01-01" in geo.price_ids.split(";")


# --- effective dates, precedence, overrides --------------------------------------------------------


def test_effective_dates_day_decides(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "prices.csv",
        "acme.m-v1,*,*,input,default,0.001,2024-01-01,2025-06-01,published,old",
        "acme.m-v1,*,*,input,default,0.002,2025-06-01,,published,new",
        "acme.m-v1,*,*,output,default,0.004,2024-01-01,,published,x",
    )
    table = load_prices(path)
    assert table.version == "2099-01-01"
    before = table.lookup("acme.m-v1", "us-east-1", "in_region", "input", date(2025, 5, 31))
    after = table.lookup("acme.m-v1", "us-east-1", "in_region", "input", date(2025, 6, 1))
    assert before is not None
    assert after is not None
    assert (before.usd_per_1k, before.source, before.effective_to) == (0.001, "old", date(2025, 6, 1))
    assert (after.usd_per_1k, after.source, after.effective_to) == (0.002, "new", None)
    assert table.lookup("acme.m-v1", "us-east-1", "in_region", "input", date(2023, 12, 31)) is None
    # before the first price: unpriced, cost None (not 0)
    early = price_for(table, {}, "acme.m-v1", "acme.m-v1", "in_region", "us-east-1", date(2023, 12, 31))
    assert early.status == "unpriced"
    assert cost_usd(early, 10, 10, 0, 0) == (None, "unpriced")
    # 1000 in on 2025-06-01: 1000 * 0.002 + 1000 * 0.004 = 6 / 1000
    late = price_for(table, {}, "acme.m-v1", "acme.m-v1", "in_region", "us-east-1", date(2025, 6, 1))
    assert cost_usd(late, 1000, 1000, 0, 0)[0] == pytest.approx(0.006)
    assert late.price_ids == "acme.m-v1|*|*|input|default|2025-06-01;acme.m-v1|*|*|output|default|2024-01-01"


def test_region_and_scope_specificity(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "prices.csv",
        "acme.m-v1,*,*,input,default,0.001,2024-01-01,,published,any",
        "acme.m-v1,eu-west-1,*,input,default,0.002,2024-01-01,,published,eu",
        "acme.m-v1,*,global,input,default,0.003,2024-01-01,,published,global",
        "acme.m-v1,eu-west-1,global,input,default,0.004,2024-01-01,,published,eu global",
    )
    table = load_prices(path)

    def source(region: str | None, scope: str) -> str | None:
        row = table.lookup("acme.m-v1", region, scope, "input", DAY)
        return None if row is None else row.source

    assert source("us-east-1", "in_region") == "any"
    assert source("eu-west-1", "in_region") == "eu"
    assert source("us-east-1", "global") == "global"
    assert source("eu-west-1", "global") == "eu global"
    assert source(None, "geo") == "any"
    # exact region beats exact scope
    assert source("eu-west-1", "global") != "global"
    assert table.lookup("acme.m-v1", "us-east-1", "in_region", "output", DAY) is None
    assert table.lookup("acme.m-v1", "us-east-1", "in_region", "input", DAY, tier="priority") is None


def test_override_takes_precedence_where_periods_overlap(tmp_path: Path) -> None:
    override = _write(
        tmp_path,
        "my-prices.csv",
        f"{SONNET_35},*,*,input,default,0.006,2025-01-01,,published,extended access",
        f"{SONNET_45},*,*,input,default,0.0031,2025-01-01,2026-01-01,published,negotiated",
        version=False,
    )
    table = load_prices(override=override)
    digest = hashlib.sha256(override.read_bytes()).hexdigest()[:8]
    assert table.version == f"2026-11-01+{digest}"
    assert len(table.rows) == 142
    assert table.summary()[-1] == "rows from my-prices.csv: 2"

    after = table.lookup(SONNET_35, "us-east-1", "in_region", "input", date(2025, 3, 1))
    before = table.lookup(SONNET_35, "us-east-1", "in_region", "input", date(2024, 12, 31))
    assert after is not None
    assert before is not None
    assert (after.usd_per_1k, after.origin) == (0.006, "my-prices.csv")
    assert (before.usd_per_1k, before.origin) == (0.003, "builtin")
    # output keeps the builtin price
    out = table.lookup(SONNET_35, "us-east-1", "in_region", "output", date(2025, 3, 1))
    assert out is not None
    assert (out.usd_per_1k, out.origin) == (0.015, "builtin")
    # an override * row beats the builtin global-specific row while it is in force, not after
    during = table.lookup(SONNET_45, "us-east-1", "global", "input", date(2025, 6, 1))
    ended = table.lookup(SONNET_45, "us-east-1", "global", "input", date(2026, 1, 1))
    assert during is not None
    assert ended is not None
    assert (during.usd_per_1k, during.origin) == (0.0031, "my-prices.csv")
    assert (ended.usd_per_1k, ended.origin) == (0.003, "builtin")


def test_summary_and_version_without_override(tmp_path: Path) -> None:
    path = _write(tmp_path, "p.csv", "acme.m-v1,*,*,input,default,0.001,2024-01-01,,conflict,x")
    assert load_prices(path).summary() == [
        "price table version 2099-01-01",
        "1 models, 1 rows",
        "rows by status: published=0, unverified=0, conflict=1, derived=0",
        "rows from builtin: 1",
    ]


# --- validation ---------------------------------------------------------------------------------------

GOOD = "acme.m-v1,*,*,input,default,0.001,2024-01-01,,published,x"


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        (
            [GOOD, "acme.m-v1,*,*,input,default,0.002,2024-01-01,,published,y"],
            r"p\.csv:4: duplicate row acme\.m-v1\|\*\|\*\|input\|default\|2024-01-01 \(also on line 3\)",
        ),
        (
            [
                "acme.m-v1,*,*,input,default,0.001,2024-01-01,2025-01-01,published,x",
                "acme.m-v1,*,*,input,default,0.002,2024-06-01,,published,y",
            ],
            r"p\.csv:4: period from 2024-06-01 overlaps line 3 \(2024-01-01 to 2025-01-01\)",
        ),
        (
            [GOOD, "acme.m-v1,*,*,input,default,0.002,2025-01-01,,published,y"],
            r"p\.csv:4: period from 2025-01-01 overlaps line 3 \(2024-01-01 to open-ended\)",
        ),
        (["acme.m-v1,*,*,input,default,-0.001,2024-01-01,,published,x"], r"p\.csv:3: negative price"),
        (
            ["acme.m-v1,*,*,input,default,cheap,2024-01-01,,published,x"],
            r"p\.csv:3: usd_per_1k 'cheap' is not a number",
        ),
        (
            ["acme.m-v1,*,*,input,default,nan,2024-01-01,,published,x"],
            r"p\.csv:3: usd_per_1k 'nan' is not a finite",
        ),
        (
            ["acme.m-v1,*,*,prompt,default,0.001,2024-01-01,,published,x"],
            r"p\.csv:3: unknown token_class 'prompt'",
        ),
        (
            ["acme.m-v1,*,regional,input,default,0.001,2024-01-01,,published,x"],
            r"p\.csv:3: unknown endpoint_scope 'regional'",
        ),
        (["acme.m-v1,*,*,input,default,0.001,2024-01-01,,guessed,x"], r"p\.csv:3: unknown status 'guessed'"),
        (
            ["acme.m-v1,*,*,input,cheap,0.001,2024-01-01,,published,x"],
            r"p\.csv:3: unknown service_tier 'cheap'",
        ),
        (
            ["acme.m-v1,*,*,input,default,0.001,01/01/2024,,published,x"],
            r"p\.csv:3: bad effective_from '01/01/2024'",
        ),
        (
            ["acme.m-v1,*,*,input,default,0.001,2024-02-30,,published,x"],
            r"p\.csv:3: bad effective_from '2024-02-30'",
        ),
        (
            ["acme.m-v1,*,*,input,default,0.001,2024-01-01,2024-13-01,published,x"],
            r"p\.csv:3: bad effective_to",
        ),
        (
            ["acme.m-v1,*,*,input,default,0.001,2024-01-01,2024-01-01,published,x"],
            r"p\.csv:3: effective_to 2024-01-01 is not after effective_from 2024-01-01",
        ),
        (
            ["acme.m-v1,US East,*,input,default,0.001,2024-01-01,,published,x"],
            r"p\.csv:3: bad source_region 'US East'",
        ),
        ([",*,*,input,default,0.001,2024-01-01,,published,x"], r"p\.csv:3: bad base_model_id ''"),
        ([GOOD, "acme.m-v1,*,*,input,default,0.001"], r"p\.csv:4: expected 10 fields, got 6"),
    ],
)
def test_validation_errors(tmp_path: Path, rows: list[str], message: str) -> None:
    path = _write(tmp_path, "p.csv", *rows)
    with pytest.raises(PriceError, match=message):
        load_prices(path)


@pytest.mark.parametrize(
    ("header", "message"),
    [
        (HEADER.removesuffix(",source"), r"p\.csv:2: bad header: missing columns source"),
        (HEADER + ",notes", r"p\.csv:2: bad header: extra columns notes"),
        (HEADER.replace("token_class", "kind"), r"missing columns token_class; extra columns kind"),
    ],
)
def test_header_errors(tmp_path: Path, header: str, message: str) -> None:
    path = _write(tmp_path, "p.csv", header=header)
    with pytest.raises(PriceError, match=message):
        load_prices(path)


def test_missing_version_header_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(PriceError, match=r"p\.csv: no '# llmdrift price table, version"):
        load_prices(_write(tmp_path, "p.csv", GOOD, version=False))
    with pytest.raises(PriceError, match=r"absent\.csv: cannot read"):
        load_prices(tmp_path / "absent.csv")


def test_errors_in_override_name_the_override(tmp_path: Path) -> None:
    override = _write(tmp_path, "o.csv", GOOD, GOOD.replace("0.001", "0.5"), version=False)
    with pytest.raises(PriceError, match=r"o\.csv:3: duplicate row"):
        load_prices(override=override)


def test_columns_in_any_order_and_comments_between_rows(tmp_path: Path) -> None:
    header = "source,status,effective_to,effective_from,usd_per_1k,service_tier,token_class,endpoint_scope,source_region,base_model_id"
    path = _write(
        tmp_path,
        "p.csv",
        '"a, quoted source",published,,2024-01-01,0.25,default,output,geo,*,acme.m-v1',
        "# a comment between rows",
        "",
        header=header,
    )
    (row,) = load_prices(path).rows
    assert (row.base_model_id, row.endpoint_scope, row.token_class, row.usd_per_1k) == (
        "acme.m-v1",
        "geo",
        "output",
        0.25,
    )
    assert row.source == "a, quoted source"


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        (["p1,acme.m-v1", "p1,acme.n-v1"], r"pr\.csv:4: duplicate profile 'p1' \(also on line 3\)"),
        (["p1,"], r"pr\.csv:3: empty base_model_id for profile 'p1'"),
        ([",acme.m-v1"], r"pr\.csv:3: empty profile"),
        (
            [f"p1,{ACCOUNT_ARN}:provisioned-model/x"],
            r"pr\.csv:3: base_model_id .* is not a model id or a geo/global inference-profile id",
        ),
        (["p1,acme.m-v1,extra"], r"pr\.csv:3: expected 2 fields, got 3"),
    ],
)
def test_profile_errors(tmp_path: Path, lines: list[str], message: str) -> None:
    path = tmp_path / "pr.csv"
    path.write_text("\n".join(["# profiles", "profile,base_model_id", *lines]) + "\n", encoding="utf-8")
    with pytest.raises(PriceError, match=message):
        load_profiles(path)


def test_profiles_file_accepts_arns_and_geo_ids(tmp_path: Path) -> None:
    arn = f"{ACCOUNT_ARN}:application-inference-profile/abc"
    path = tmp_path / "pr.csv"
    path.write_text(f"profile,base_model_id\n{arn},{SONNET_35}\nxyz,us.{SONNET_45}\n", encoding="utf-8")
    assert load_profiles(path) == {arn: SONNET_35, "xyz": f"us.{SONNET_45}"}
