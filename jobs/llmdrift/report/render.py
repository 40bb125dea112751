"""Render the drift report: one self-contained HTML page from stored result rows (pure; no Spark, no I/O).

No script and no external resource: charts are inline SVG whose marks carry ``<title>`` tooltips, so the
page works offline and under a strict content-security policy. Every text that comes from logs or tables
goes through ``esc`` (HTML escaping), so a prompt holding ``<script>`` shows as text.
"""

from __future__ import annotations

import html
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

FEATURE_NAMES = {
    "prompt_embedding": "what users ask (prompt embeddings)",
    "completion_embedding": "what models answer (completion embeddings)",
    "completion_refusal_flag": "refusal rate",
    "completion_refusal_score": "refusal score",
    "prompt_toxicity_flag": "toxic prompts",
    "completion_toxicity_flag": "toxic completions",
    "prompt_toxicity_score": "prompt toxicity score",
    "completion_toxicity_score": "completion toxicity score",
    "prompt_sentiment_compound": "prompt sentiment",
    "completion_sentiment_compound": "completion sentiment",
    "prompt_has_pii": "prompts with personal data",
    "completion_similarity_prompt": "prompt/completion similarity",
    "prompt_text_chars": "prompt length (characters)",
    "completion_text_chars": "completion length (characters)",
    "prompt_text_tokens": "input tokens",
    "completion_text_tokens": "output tokens",
    "latency_ms": "latency (ms)",
    "cost_usd": "cost per invocation (USD)",
    "model_share": "share of models",
    "stop_reason_share": "share of stop reasons",
}
TREND_METRICS = (
    ("invocations", "Invocations", "{:,.0f}"),
    ("error_rate", "Error rate", "{:.1%}"),
    ("refusal_ratio", "Refusal ratio (band: 95% interval)", "{:.1%}"),
    ("toxic_rate", "Toxic prompt or completion", "{:.1%}"),
    ("completion_sentiment_mean", "Mean completion sentiment", "{:+.2f}"),
    ("cost_usd", "Cost (USD)", "${:,.2f}"),
)
REF, CUR = "#8a8f98", "#1f6feb"  # grey and blue; shapes and labels carry the meaning as well


def esc(value: Any) -> str:
    return html.escape("" if value is None else str(value), quote=True)


@dataclass
class ReportData:
    run: dict[str, Any]  # run_id and the two windows
    results: list[dict[str, Any]]
    clusters: list[dict[str, Any]]
    daily: list[dict[str, Any]]  # usage_daily rows of both windows
    anomalies: list[dict[str, Any]] = field(default_factory=list)
    alerts: list[dict[str, Any]] = field(default_factory=list)
    ingest_runs: list[dict[str, Any]] = field(default_factory=list)
    quarantine: list[dict[str, Any]] = field(default_factory=list)  # reason_code, row_kept, n
    bodies: list[dict[str, Any]] = field(default_factory=list)  # status (inline, offloaded, absent...), n
    dq: list[dict[str, Any]] = field(default_factory=list)  # dq_results rows of the newest validation
    calibration: list[dict[str, Any]] = field(default_factory=list)  # metric_calibration, current window
    judged_quality: list[dict[str, Any]] = field(default_factory=list)  # model, backend, n, helpfulness...
    generated_at: str = ""


def feature_name(feature: str) -> str:
    return FEATURE_NAMES.get(feature, feature.replace("_", " "))


def slice_name(row: dict[str, Any]) -> str:
    if row["slice_type"] == "all":
        return "all traffic"
    return f"{row['slice_type']} {row['slice']}"


# ------------------------------------------------------------------------------------------- charts


def _line_chart(
    days: list[str],
    values: list[float | None],
    fmt: str,
    current: set[str],
    band: list[tuple[float | None, float | None]] | None = None,
    marks: dict[str, str] | None = None,
) -> str:
    w, h, pad = 520, 130, 34
    present = [v for v in values if v is not None]
    lows = [b[0] for b in band or [] if b[0] is not None]
    highs = [b[1] for b in band or [] if b[1] is not None]
    if not present:
        return '<p class="muted">no data</p>'
    lo, hi = min(present + lows), max(present + highs)
    if hi == lo:
        hi = lo + (abs(lo) or 1.0)
    n = max(len(days) - 1, 1)

    def x(i: int) -> float:
        return pad + (w - 2 * pad) * i / n

    def y(v: float) -> float:
        return h - 20 - (h - 40) * (v - lo) / (hi - lo)

    parts = [f'<svg viewBox="0 0 {w} {h}" role="img" class="chart">']
    first_current = next((i for i, d in enumerate(days) if d in current), None)
    if first_current is not None:
        x0 = x(first_current) - (x(1) - x(0)) / 2 if len(days) > 1 else pad
        parts.append(
            f'<rect x="{x0:.1f}" y="4" width="{w - pad - x0 + 6:.1f}" height="{h - 20}" class="current-bg"/>'
        )
        parts.append(f'<text x="{x0 + 4:.1f}" y="14" class="axis">current</text>')
    if band:
        upper = [(x(i), y(b[1])) for i, b in enumerate(band) if b[1] is not None]
        lower = [(x(i), y(b[0])) for i, b in enumerate(band) if b[0] is not None]
        if upper and lower:
            pts = " ".join(f"{a:.1f},{b:.1f}" for a, b in upper + lower[::-1])
            parts.append(f'<polygon points="{pts}" class="band"/>')
    line = " ".join(f"{x(i):.1f},{y(v):.1f}" for i, v in enumerate(values) if v is not None)
    parts.append(f'<polyline points="{line}" class="line"/>')
    for i, (day, v) in enumerate(zip(days, values, strict=True)):
        if v is None:
            continue
        mark = (marks or {}).get(day)
        cls = "dot anomaly" if mark else "dot"
        label = f"{day}: {fmt.format(v)}" + (f" - {mark}" if mark else "")
        radius = 6 if mark else 3.5
        parts.append(
            f'<circle cx="{x(i):.1f}" cy="{y(v):.1f}" r="{radius}" class="{cls}"><title>{esc(label)}</title></circle>'
        )
        if mark:
            parts.append(
                f'<text x="{x(i):.1f}" y="{y(v) - 9:.1f}" class="flag" text-anchor="middle">!</text>'
            )
    parts.append(f'<text x="2" y="{y(hi) + 4:.1f}" class="axis">{esc(fmt.format(hi))}</text>')
    parts.append(f'<text x="2" y="{y(lo) + 4:.1f}" class="axis">{esc(fmt.format(lo))}</text>')
    step = max(1, len(days) // 6)
    for i in range(0, len(days), step):
        parts.append(
            f'<text x="{x(i):.1f}" y="{h - 4}" class="axis" text-anchor="middle">{esc(days[i][5:])}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def _share_bars(reference: float, current: float) -> str:
    """Two horizontal bars: reference (grey, 'R') and current (blue, 'C') shares."""
    w = 180
    out = ['<svg viewBox="0 0 230 30" class="bars" role="img">']
    for row, (label, value, colour) in enumerate((("R", reference, REF), ("C", current, CUR))):
        y = 2 + row * 14
        out.append(f'<text x="0" y="{y + 10}" class="axis">{label}</text>')
        out.append(
            f'<rect x="12" y="{y}" width="{max(w * value, 1):.1f}" height="11" fill="{colour}">'
            f"<title>{'reference' if label == 'R' else 'current'}: {value:.1%}</title></rect>"
        )
        out.append(f'<text x="{16 + w * value:.1f}" y="{y + 10}" class="axis">{value:.1%}</text>')
    out.append("</svg>")
    return "".join(out)


def _histogram(edges: list[float], reference: list[float], current: list[float]) -> str:
    """Paired histogram: reference as grey dashed outlines, current as blue bars (tooltips per bin)."""
    w, h = 200, 44
    peak = max([*reference, *current, 1e-9])
    bw = w / len(reference)
    out = [f'<svg viewBox="0 0 {w} {h + 12}" class="hist" role="img">']
    for i, (r, c) in enumerate(zip(reference, current, strict=True)):
        x = i * bw
        label = f"{edges[i]:.3g} to {edges[i + 1]:.3g}: reference {r:.1%}, current {c:.1%}"
        out.append(f"<g><title>{esc(label)}</title>")
        out.append(
            f'<rect x="{x + 1:.1f}" y="{h - h * c / peak:.1f}" width="{bw - 2:.1f}" height="{h * c / peak:.1f}"'
            f' fill="{CUR}" opacity=".75"/>'
        )
        out.append(
            f'<rect x="{x + 1:.1f}" y="{h - h * r / peak:.1f}" width="{bw - 2:.1f}" height="{h * r / peak:.1f}"'
            f' fill="none" stroke="{REF}" stroke-width="1.5" stroke-dasharray="3 2"/></g>'
        )
    out.append(f'<text x="0" y="{h + 10}" class="axis">{esc(f"{edges[0]:.3g}")}</text>')
    out.append(f'<text x="{w}" y="{h + 10}" class="axis" text-anchor="end">{esc(f"{edges[-1]:.3g}")}</text>')
    out.append("</svg>")
    return "".join(out)


def _distribution(r: dict[str, Any]) -> str:
    if r.get("bin_edges") and r.get("reference_hist") and r.get("current_hist"):
        return _histogram(r["bin_edges"], r["reference_hist"], r["current_hist"])
    if r["feature"].endswith(("_flag", "_has_pii")) and r.get("reference_value") is not None:
        return _share_bars(r["reference_value"], r["current_value"])
    return ""


# ------------------------------------------------------------------------------------------- sections


def _verdict(data: ReportData) -> str:
    tested = [r for r in data.results if r["method"] != "not_tested"]
    drifted = sorted((r for r in tested if r["drifted"]), key=lambda r: r["q_value"])
    untested = [r for r in data.results if r["feature"] == "*"]
    quiet_features = sorted(
        {feature_name(r["feature"]) for r in tested if r["slice_type"] == "all" and not r["drifted"]}
    )
    out = ['<section id="verdict"><h2>Verdict</h2>']
    if drifted:
        out.append(
            f'<p class="lead"><strong>{len(drifted)} of {len(tested)} tests show drift</strong> (false discovery'
            f" rate {esc(tested[0]['threshold'])}).</p>"
        )
        overall = [r for r in drifted if r["slice_type"] == "all"]
        if overall:
            out.append("<p>For all traffic:</p><ol>")
            for r in overall:  # strongest evidence first (effects of different tests have different units)
                out.append(
                    f"<li><strong>{esc(feature_name(r['feature']))}</strong> changed: {_effect_name(r)}"
                    f" {r['effect_size']:.3f}, q = {r['q_value']:.2g}{_means(r)}</li>"
                )
            out.append("</ol>")
        by_feature: dict[str, list[str]] = defaultdict(list)
        for r in drifted:
            if r["slice_type"] != "all":
                by_feature[r["feature"]].append(slice_name(r))
        if by_feature:
            out.append("<p>Where, slice by slice:</p><ul>")
            for feature, slices in sorted(by_feature.items(), key=lambda kv: -len(kv[1])):
                shown = ", ".join(slices[:8]) + (f" and {len(slices) - 8} more" if len(slices) > 8 else "")
                out.append(f"<li><strong>{esc(feature_name(feature))}</strong>: {esc(shown)}</li>")
            out.append("</ul>")
    else:
        out.append(f'<p class="lead"><strong>No drift</strong> in any of the {len(tested)} tests.</p>')
    if quiet_features:
        out.append(f"<p>Unchanged for all traffic: {esc(', '.join(quiet_features))}.</p>")
    if untested:
        listed = ", ".join(slice_name(r) for r in untested[:12])
        more = f" and {len(untested) - 12} more" if len(untested) > 12 else ""
        out.append(
            f'<p class="muted">Not tested (too few invocations in a window, so no verdict either way):'
            f" {esc(listed)}{esc(more)}.</p>"
        )
    out.append("</section>")
    return "".join(out)


def _num(value: float | None, fmt: str) -> str:
    return "" if value is None else fmt.format(value)


def _effect_name(r: dict[str, Any]) -> str:
    """What the effect size of a test measures, in words a reader can weigh."""
    return "separation" if r["feature"].endswith("_embedding") else "effect"


def _means(r: dict[str, Any]) -> str:
    if r.get("reference_value") is None or r.get("current_value") is None:
        return ""
    return f" ({r['reference_value']:.3g} &rarr; {r['current_value']:.3g})"


def _embeddings(data: ReportData) -> str:
    out = [
        '<section id="embeddings"><h2>What changed in prompts and completions</h2><p class="muted">Each text is'
        " compared with its nearest neighbours in the two windows' pooled sample. Separation is 0 when they"
        " come from either window as chance would have it and 1 when they all come from the text's own window;"
        " the clusters below show which kinds of text grew or shrank.</p>"
    ]
    groups: dict[tuple[str, str, str], list[dict[str, Any]]] = defaultdict(list)
    for c in data.clusters:
        groups[(c["slice_type"], c["slice"], c["feature"])].append(c)
    tests = {(r["slice_type"], r["slice"], r["feature"]): r for r in data.results}
    if not groups:
        out.append('<p class="muted">No embedding drift to explain.</p>')
    for key in sorted(groups, key=lambda k: (k[0] != "all", k)):
        test = tests.get(key, {})
        verdict = "drifted" if test.get("drifted") else "no drift"
        q, separation = test.get("q_value"), test.get("effect_size")
        out.append(
            f"<h3>{esc(feature_name(key[2]))} &mdash; {esc(slice_name({'slice_type': key[0], 'slice': key[1]}))}"
            f' <span class="badge {"bad" if test.get("drifted") else "ok"}">{verdict}'
            f"{'' if q is None else f', separation {separation:.2f}, q = {q:.2g}'}</span></h3>"
        )
        out.append(
            '<table class="clusters"><tr><th>cluster</th><th>share (R = reference, C = current)</th><th>change</th><th>top terms</th><th>examples</th></tr>'
        )
        for c in sorted(groups[key], key=lambda c: -abs(c["change"]))[:5]:
            examples = "".join(f"<li>{esc(e)}</li>" for e in (c.get("examples") or []))
            out.append(
                f"<tr><td>{c['cluster']}</td><td>{_share_bars(c['reference_share'], c['current_share'])}</td>"
                f"<td>{c['change']:+.1%}</td><td>{esc(', '.join(c.get('terms') or []))}</td>"
                f'<td><ul class="examples">{examples}</ul></td></tr>'
            )
        out.append("</table>")
    out.append("</section>")
    return "".join(out)


def _scalars(data: ReportData) -> str:
    rows = [r for r in data.results if r["slice_type"] == "all" and not r["feature"].endswith("_embedding")]
    out = [
        '<section id="metrics"><h2>Metrics, all traffic</h2><p class="muted">Distributions: reference dashed'
        " grey, current blue (shares per bin on hover); flags: R = reference, C = current.</p><table><tr>"
        "<th>metric</th><th>reference</th><th>current</th><th>distribution</th><th>test</th><th>effect</th>"
        "<th>q</th><th>verdict</th></tr>"
    ]
    for r in sorted(rows, key=lambda r: (not r["drifted"], r["q_value"] if r["q_value"] is not None else 2)):
        ref, cur = _num(r.get("reference_value"), "{:.4g}"), _num(r.get("current_value"), "{:.4g}")
        verdict = "not tested" if r["drifted"] is None else ("drifted" if r["drifted"] else "no drift")
        cls = "bad" if r["drifted"] else ("muted" if r["drifted"] is None else "ok")
        out.append(
            f"<tr><td>{esc(feature_name(r['feature']))}</td><td>{ref}</td><td>{cur}</td><td>{_distribution(r)}</td>"
            f"<td>{esc(r['method'])}</td>"
            f"<td>{_num(r['effect_size'], '{:.3f}')}</td><td>{_num(r['q_value'], '{:.2g}')}</td>"
            f'<td><span class="badge {cls}">{verdict}</span></td></tr>'
        )
    out.append("</table></section>")
    return "".join(out)


def _daily_series(data: ReportData) -> tuple[list[str], dict[str, dict[str, float]]]:
    sums: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for r in data.daily:
        s = sums[r["dt"]]
        for k in (
            "invocations",
            "errors",
            "cost_usd",
            "refusals",
            "scored",
            "completion_sentiment_sum",
            "completion_sentiment_n",
        ):
            s[k] += float(r.get(k) or 0)
        s["toxic"] += float((r.get("toxic_rate") or 0) * (r.get("scored") or 0))
    days = sorted(sums)
    series: dict[str, dict[str, float]] = {}
    for d in days:
        s = sums[d]
        series[d] = {
            "invocations": s["invocations"],
            "error_rate": s["errors"] / s["invocations"] if s["invocations"] else 0.0,
            "refusal_ratio": s["refusals"] / s["scored"] if s["scored"] else 0.0,
            "toxic_rate": s["toxic"] / s["scored"] if s["scored"] else 0.0,
            "completion_sentiment_mean": s["completion_sentiment_sum"] / s["completion_sentiment_n"]
            if s["completion_sentiment_n"]
            else 0.0,
            "cost_usd": s["cost_usd"],
            "refusals": s["refusals"],
            "scored": s["scored"],
        }
    return days, series


def _trends(data: ReportData) -> str:
    from llmdrift.core.intervals import wilson

    days, series = _daily_series(data)
    current = set(_window_days(data.run["current_start"], data.run["current_end"]))
    marks: dict[str, dict[str, str]] = defaultdict(dict)
    for a in data.anomalies:
        if a["grain"] == "daily" and a["slice_type"] == "all":
            marks[a["metric"]][a["dt"]] = f"anomaly: expected {a['expected']:.3g}, z {a['score']:+.1f}"
    for a in data.alerts:
        metric = a["metric"]
        marks[metric][a["dt"]] = (marks[metric].get(a["dt"], "") + f" alert: {a['message']}").strip()
    out = [
        '<section id="trends"><h2>Trends</h2><p class="muted">Daily, all traffic; the shaded part is the current'
        ' window. Larger dots with ! are anomalies or alerts (details on hover).</p><div class="grid">'
    ]
    for key, title, fmt in TREND_METRICS:
        values: list[float | None] = [series[d][key] for d in days]
        band = None
        if key == "refusal_ratio":
            band = [wilson(int(series[d]["refusals"]), int(series[d]["scored"])) for d in days]
        out.append(
            f"<figure><figcaption>{esc(title)}</figcaption>{_line_chart(days, values, fmt, current, band, marks.get(key))}</figure>"
        )
    out.append("</div></section>")
    return "".join(out)


def _window_days(start: str, end: str) -> list[str]:
    from datetime import date, timedelta

    a, b = date.fromisoformat(start), date.fromisoformat(end)
    return [(a + timedelta(days=i)).isoformat() for i in range((b - a).days)]


def _bar_table(title: str, values: dict[str, float], fmt: str) -> str:
    top = sorted(values.items(), key=lambda kv: -kv[1])[:8]
    peak = max((v for _, v in top), default=0.0) or 1.0
    rows = "".join(
        f'<tr><td>{esc(k)}</td><td><svg viewBox="0 0 160 12" class="bars"><rect width="{160 * v / peak:.1f}"'
        f' height="10" fill="{CUR}"><title>{esc(k)}: {esc(fmt.format(v))}</title></rect></svg></td>'
        f"<td>{esc(fmt.format(v))}</td></tr>"
        for k, v in top
    )
    return f"<div><h3>{esc(title)}</h3><table>{rows}</table></div>"


def _cost(data: ReportData) -> str:
    current = set(_window_days(data.run["current_start"], data.run["current_end"]))
    by_model: dict[str, float] = defaultdict(float)
    by_caller: dict[str, float] = defaultdict(float)
    tokens: dict[str, float] = defaultdict(float)
    unpriced = 0
    for r in data.daily:
        if r["dt"] in current:
            model = r.get("base_model_id") or "(unknown)"
            by_model[model] += float(r.get("cost_usd") or 0)
            by_caller[r.get("caller_name") or "(unknown)"] += float(r.get("cost_usd") or 0)
            tokens[model] += float((r.get("input_tokens") or 0) + (r.get("output_tokens") or 0))
            unpriced += int(r.get("unpriced") or 0)
    total = sum(by_model.values())
    out = [f'<section id="cost"><h2>Cost in the current window: ${total:,.2f}</h2><div class="grid">']
    out.append(_bar_table("cost by model", by_model, "${:,.2f}"))
    out.append(_bar_table("cost by caller (top)", by_caller, "${:,.2f}"))
    out.append(_bar_table("tokens by model (input + output)", tokens, "{:,.0f}"))
    out.append("</div>")
    if unpriced:
        out.append(
            f'<p class="warn">{unpriced:,} invocations have no price (unknown model, unmapped application'
            " profile, provisioned throughput or custom model): their cost is not in these totals.</p>"
        )
    out.append("</section>")
    return "".join(out)


def _health(data: ReportData) -> str:
    keys = (
        "lines_read",
        "rows_new",
        "duplicates",
        "rejected",
        "warnings",
        "offloaded_bodies_read",
        "file_errors",
    )
    totals = {k: sum(int(r.get(k) or 0) for r in data.ingest_runs) for k in keys}
    out = ['<section id="health"><h2>Data health</h2>']
    out.append(
        f"<p>{len(data.ingest_runs)} ingest run{'' if len(data.ingest_runs) == 1 else 's'} read {totals['lines_read']:,} lines: {totals['rows_new']:,} new"
        f" invocations, {totals['duplicates']:,} duplicates dropped, {totals['rejected']:,} lines quarantined,"
        f" {totals['warnings']:,} rows kept with warnings, {totals['offloaded_bodies_read']:,} offloaded bodies"
        f" read, {totals['file_errors']:,} damaged objects.</p>"
    )
    if data.bodies:
        counts = {b["status"]: int(b["n"]) for b in data.bodies if b["status"]}
        missing = sum(v for k, v in counts.items() if k not in ("inline", "offloaded"))
        listed = ", ".join(f"{k} {v:,}" for k, v in sorted(counts.items(), key=lambda kv: -kv[1]))
        out.append(
            f"<p>Request and response bodies in the two windows: {esc(listed)}."
            f"{' <strong>' + f'{missing:,} bodies could not be read or were not logged.</strong>' if missing else ''}</p>"
        )
    if data.quarantine:
        rows = "".join(
            f"<tr><td>{esc(q['reason_code'])}</td><td>{'row kept' if q['row_kept'] else 'rejected'}</td><td>{int(q['n']):,}</td></tr>"
            for q in sorted(data.quarantine, key=lambda q: -int(q["n"]))
        )
        out.append(f"<table><tr><th>quarantine reason</th><th></th><th>count</th></tr>{rows}</table>")
    out.append(_quality_gates(data.dq))
    out.append("</section>")
    return "".join(out)


def _quality_gates(rows: list[dict[str, Any]]) -> str:
    """The data-quality validation of the drift run (else the newest): how many expectations held, and
    every one that did not."""
    if not rows:
        return '<h3>Data-quality gates</h3><p class="muted">No data-quality results are stored yet.</p>'
    failed = [r for r in rows if not r["success"]]
    critical = sum(1 for r in failed if r["severity"] == "critical")
    tables_checked = len({r["table_name"] for r in rows})
    head = (
        f"<h3>Data-quality gates</h3><p>Run {esc(rows[0]['run_id'])} checked {len(rows):,} expectations on"
        f" {tables_checked} table{'' if tables_checked == 1 else 's'}: {len(rows) - len(failed):,} held"
    )
    if not failed:
        return head + ".</p>"
    body = "".join(
        f"<tr><td>{esc(r['severity'])}</td><td>{esc(r['table_name'])}</td><td>{esc(r['description'])}</td>"
        f"<td>{int(r['unexpected_count'] or 0):,} of {int(r['element_count'] or 0):,}</td>"
        f"<td>{esc('; '.join(r['failing_keys'] or []) or (r['error'] or ''))}</td></tr>"
        for r in sorted(failed, key=lambda r: (r["severity"] != "critical", r["table_name"]))
    )
    return (
        f'{head}, <strong class="warn">{len(failed)} failed ({critical} critical)</strong>.</p>'
        "<table><tr><th>severity</th><th>table</th><th>expectation</th><th>rows</th><th>examples</th></tr>"
        f"{body}</table>"
    )


CSS = """
body{font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;color:#1b1f24;background:#fff}
main{max-width:1100px;margin:0 auto;padding:16px 20px 40px}
header{border-bottom:1px solid #d0d7de;margin-bottom:8px}
h1{font-size:22px;margin:12px 0 4px}h2{font-size:18px;margin:28px 0 8px;border-bottom:1px solid #eaeef2}
h3{font-size:15px;margin:18px 0 6px}
.lead{font-size:16px}.muted{color:#57606a}.warn{color:#9a6700}
table{border-collapse:collapse;width:100%;margin:6px 0}
td,th{border-bottom:1px solid #eaeef2;padding:4px 6px;text-align:left;vertical-align:top;font-size:14px}
.badge{font-size:12px;padding:1px 7px;border-radius:9px;border:1px solid}
.badge.bad{color:#a40e26;border-color:#a40e26}.badge.ok{color:#116329;border-color:#116329}
.badge.muted{color:#57606a;border-color:#8c959f}
.grid{display:grid;grid-template-columns:repeat(auto-fit,minmax(320px,1fr));gap:12px}
figure{margin:0}figcaption{font-weight:600;font-size:14px}
.chart{width:100%;height:auto}.bars{width:230px;height:30px}.hist{width:200px;height:56px}
.line{fill:none;stroke:#1f6feb;stroke-width:2}.dot{fill:#1f6feb}.dot.anomaly{fill:#cf222e}
.flag{fill:#cf222e;font-weight:700;font-size:12px}.band{fill:#1f6feb;opacity:.15}
.current-bg{fill:#f6f8fa}.axis{font-size:10px;fill:#57606a}
.examples{margin:0;padding-left:16px;font-size:13px}
nav a{margin-right:12px}
"""


TRUST_METRICS = {
    "refusal": "Refusals (completion)",
    "prompt_toxicity": "Toxic prompts",
    "completion_toxicity": "Toxic completions",
    "completion_sentiment": "Negative completions",
}


def _rate(value: Any, low: Any = None, high: Any = None) -> str:
    if value is None:
        return "&ndash;"
    text = f"{100 * float(value):.1f}%"
    if low is not None and high is not None:
        text += f' <span class="muted">[{100 * float(low):.1f}, {100 * float(high):.1f}]</span>'
    return text


def _trust(data: ReportData) -> str:
    """How far to trust these numbers: the local detectors against a judge on this traffic."""
    out = ['<section id="trust"><h2>How far to trust these numbers</h2>']
    rows = [r for r in data.calibration if r["slice_type"] == "all"]
    if not rows:
        out.append(
            '<p class="warn">No judge ran for the current window: the refusal, toxicity and sentiment rates in this'
            " report are the local detectors' own, and their error on this traffic is not measured. Turn on"
            " <code>[judge]</code> in the config (<code>llmdrift judge</code>) to measure it on a daily sample.</p>"
            "</section>"
        )
        return "".join(out)
    judges = sorted({(r["judge_model"], r["backend"], r["rubric"]) for r in rows})
    for model, backend, rubric in judges:
        simulated = backend == "simulated"
        label = (
            " (SIMULATED: the demo generator's ground truth stands in for a judge model)" if simulated else ""
        )
        out.append(
            f'<p class="muted">Judge <b>{esc(model)}</b>{esc(label)}, rubric {esc(rubric)}. Judged rate:'
            " the share the judge called positive in the day's sample (95% Wilson interval). Local rate: the"
            " detector's flag rate over all scored invocations. Corrected: the local rate corrected for the"
            " detector's sensitivity and specificity on the sample (Rogan-Gladen, bootstrap interval).</p>"
        )
        out.append(
            "<table><tr><th>day</th><th>metric</th><th>judged</th><th>local</th><th>corrected</th>"
            "<th>precision</th><th>recall</th><th>AUC</th><th>n judged</th></tr>"
        )
        for r in sorted(
            rows,
            key=lambda r: (
                r["dt"],
                list(TRUST_METRICS).index(r["metric"]) if r["metric"] in TRUST_METRICS else 9,
            ),
        ):
            if (r["judge_model"], r["backend"], r["rubric"]) != (model, backend, rubric):
                continue
            out.append(
                f"<tr><td>{esc(r['dt'])}</td><td>{esc(TRUST_METRICS.get(r['metric'], r['metric']))}</td>"
                f"<td>{_rate(r['judged_rate'], r['judged_low'], r['judged_high'])}</td>"
                f"<td>{_rate(r['local_rate'])}</td>"
                f"<td>{_rate(r['corrected_rate'], r['corrected_low'], r['corrected_high'])}</td>"
                f"<td>{_rate(r['precision'], r['precision_low'], r['precision_high'])}</td>"
                f"<td>{_rate(r['recall'], r['recall_low'], r['recall_high'])}</td>"
                f"<td>{_num(r['auc'], '{:.2f}')}</td><td>{int(r['n_judged']):,}</td></tr>"
            )
        out.append("</table>")
    quality = [q for q in data.judged_quality if q.get("helpfulness") is not None]
    if quality:
        out.append("<h3>Answer quality by model (judge, 1-5)</h3><table><tr><th>model</th><th>judged</th>"
                   "<th>helpfulness</th><th>relevance</th></tr>")  # fmt: skip
        for q in sorted(quality, key=lambda q: str(q["base_model_id"])):
            out.append(
                f"<tr><td>{esc(q['base_model_id'])}</td><td>{int(q['n']):,}</td>"
                f"<td>{_num(q['helpfulness'], '{:.2f}')}</td><td>{_num(q['relevance'], '{:.2f}')}</td></tr>"
            )
        out.append("</table>")
    else:
        out.append(
            '<p class="muted">No answer-quality scores: the judge rated none (a simulated judge never does).</p>'
        )
    out.append("</section>")
    return "".join(out)


def render(data: ReportData) -> str:
    run = data.run
    title = f"llmdrift drift report: {run['current_start']} .. {run['current_end']}"
    body = "".join(
        (
            _verdict(data),
            _embeddings(data),
            _scalars(data),
            _trust(data),
            _trends(data),
            _cost(data),
            _health(data),
        )
    )
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; img-src data:\">"
        f"<title>{esc(title)}</title><style>{CSS}</style></head><body><main>"
        f'<header><h1>{esc(title)}</h1><p class="muted">Current window {esc(run["current_start"])} .. {esc(run["current_end"])}'
        f" (end exclusive) against reference {esc(run['reference_start'])} .. {esc(run['reference_end'])}."
        f" Drift run {esc(run['run_id'])}{', ' + esc(data.generated_at) if data.generated_at else ''}.</p>"
        '<nav><a href="#verdict">Verdict</a><a href="#embeddings">Prompts and completions</a><a href="#metrics">Metrics</a>'
        '<a href="#trust">Trust</a><a href="#trends">Trends</a><a href="#cost">Cost</a><a href="#health">Data health</a></nav></header>'
        f"{body}</main></body></html>"
    )


def render_index(entries: list[dict[str, str]]) -> str:
    """The list of reports, newest first (entries: href, title, run_id, generated)."""
    rows = "".join(
        f'<tr><td><a href="{esc(e["href"])}">{esc(e["title"])}</a></td><td>{esc(e["run_id"])}</td></tr>'
        for e in entries
    )
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>llmdrift reports</title>'
        f"<style>{CSS}</style></head><body><main><h1>llmdrift drift reports</h1>"
        f"<table><tr><th>report</th><th>run</th></tr>{rows}</table></main></body></html>"
    )
