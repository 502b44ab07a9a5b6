"""The daily report as a plain-text e-mail, the Bedrock alert, and the headline a step answers (pure).

The report leads with the figures, then what the statistics found, then the model's prose and
recommendations; a section the model could not write says so and why, while the computed
findings beside it are still listed. Lists are cut to what fits an e-mail (the full results
are in the bucket and the export). The text travels through the state machine to SNS, so
``bounded`` cuts it to ``MESSAGE_LIMIT_BYTES`` of UTF-8 (SNS allows 256 KB; the pipeline keeps its
whole state under 64 KB) with a last line naming the object that holds the full report.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pipelines.analysis.money import money, percent

SUBJECT_LIMIT = 100  # SNS e-mail subjects: at most 100 characters
# The e-mail text in the state: 32 KiB of UTF-8 leaves the rest of the state ample room under 64 KB.
MESSAGE_LIMIT_BYTES = 32 * 1024
LISTED = 10
WIDTH = 72


def headline(company: Mapping[str, Any]) -> dict[str, Any]:
    """The small per-currency summary a step answers (never the rankings): the state stays small."""
    currencies = []
    for currency in company["currencies"]:
        day = company["byCurrency"][currency]
        changes = day["changes"]
        currencies.append(
            {
                "currency": currency,
                "stores": day["stores"],
                "revenue": day["revenue"],
                "transactions": day["transactions"],
                "units": day["units"],
                "averageBasket": day["averageBasket"],
                "refunds": day["refunds"],
                "revenueVsPreviousDay": (changes["previousDay"] or {}).get("revenue", {}).get("ratio"),
                "revenueVsLastWeek": (changes["sameWeekdayLastWeek"] or {}).get("revenue", {}).get("ratio"),
            }
        )
    return {"storeCount": company["storeCount"], "currencies": currencies}


def subject(date: str, company: Mapping[str, Any]) -> str:
    """``Daily sales 2026-11-26: 12,345.67 USD (+3.2 % vs last week), …`` cut to 100 characters."""
    parts = []
    for item in headline(company)["currencies"]:
        change = item["revenueVsLastWeek"]
        suffix = f" ({percent(change)} vs last week)" if change is not None else ""
        parts.append(f"{money(item['revenue'], item['currency'])}{suffix}")
    text = f"Daily sales {date}: {', '.join(parts) or 'no sales'}"
    return text if len(text) <= SUBJECT_LIMIT else f"{text[: SUBJECT_LIMIT - 1]}…"


def bedrock_alert(insights: Mapping[str, Any]) -> dict[str, str]:
    """The alert for unavailable Bedrock sections (subject and text); empty when none is."""
    missing = insights["unavailable"]
    if not missing:
        return {"subject": "", "message": ""}
    names = ", ".join(item["section"] for item in missing)
    lines = [
        f"daily-analysis {insights['date']} (execution {insights['execution']}): Bedrock could not write {names}.",
        "The run went on: the report lists the computed findings and marks these sections unavailable.",
        "",
        *(f"- {item['section']}: {item['error']}: {item['cause']}" for item in missing),
        "",
        f"Model: {insights['model']}. Retried with backoff where a retry could help (throttling, not ready, "
        "unavailable, timeouts); a refused request or an unusable answer is not retried.",
    ]
    subject_text = f"stepworks daily-analysis {insights['date']}: Bedrock unavailable for {names}"
    return {"subject": subject_text[:SUBJECT_LIMIT], "message": "\n".join(lines)}


def _heading(title: str) -> list[str]:
    return ["", title, "-" * len(title)]


def _company_lines(company: Mapping[str, Any]) -> list[str]:
    lines = _heading("Headline figures")
    lines.append(f"Stores reporting: {company['storeCount']:,}")
    for currency in company["currencies"]:
        day = company["byCurrency"][currency]
        week = (day["changes"]["sameWeekdayLastWeek"] or {}).get("revenue", {}).get("ratio")
        previous = (day["changes"]["previousDay"] or {}).get("revenue", {}).get("ratio")
        refunds = day["refunds"]
        lines += [
            f"{currency}: revenue {money(day['revenue'], currency)} "
            f"({percent(previous)} vs the previous day, {percent(week)} vs the same weekday last week)",
            f"  {day['transactions']:,} transactions, {day['units']:,} units, average basket "
            f"{money(day['averageBasket'], currency)}, {refunds['lines']:,} refund lines "
            f"({money(refunds['amount'], currency)})",
            "  Top stores: "
            + ", ".join(f"{s['rank']}. {s['storeId']} {money(s['revenue'], currency)}" for s in day["ranking"][:5]),
        ]
    return lines


def _product_lines(products: Mapping[str, Any] | None) -> list[str]:
    if not products:
        return []
    lines = _heading("Products")
    lines.append(f"{products['productCount']:,} products sold")
    top = ", ".join(f"{p['productId']} ({p['units']:,})" for p in products["topByUnits"][:LISTED])
    bottom = ", ".join(f"{p['productId']} ({p['units']:,})" for p in products["bottomByUnits"][:5])
    lines += [f"Top sellers by units: {top or 'none'}", f"Slowest sellers: {bottom or 'none'}"]
    for name, category in products["categories"].items():
        if category["products"]:
            revenue = ", ".join(money(amount, currency) for currency, amount in category["revenue"].items())
            lines.append(f"  {name}: {category['units']:,} units, {revenue}")
    return lines


def _finding_line(finding: Mapping[str, Any]) -> str:
    what = "revenue" if finding["metric"] == "revenue" else "units sold"
    currency = finding.get("currency")
    value, median = finding["value"], finding["median"]
    shown = (money(value, currency), money(round(median), currency)) if currency else (f"{value:,}", f"{median:,}")
    ratio = f"{finding['ratio']:.1f}x" if finding.get("ratio") is not None else "n/a"
    z = f", z {finding['zScore']:.1f}" if finding.get("zScore") is not None else ""
    return (
        f"- {finding['kind']} {finding['id']}: {what} {shown[0]} is a {finding['direction']} "
        f"({ratio} its usual {shown[1]}{z})"
    )


def _section_prose(name: str, insights: Mapping[str, Any]) -> list[str]:
    section = insights["sections"][name]
    if not section["available"]:
        return [f"[{name} narrative unavailable: {section['error']}: {section['cause']}]"]
    answer = section["answer"]
    return [answer["summary"], *(f"  * {point}" for point in answer.get("highlights", []))]


def _anomaly_lines(anomalies: Mapping[str, Any] | None, insights: Mapping[str, Any]) -> list[str]:
    lines = _heading("Anomalies (median/MAD rule against the same weekday of earlier weeks)")
    findings = (anomalies or {}).get("findings", [])
    if anomalies is None:
        lines.append("The anomaly statistics were not computed.")
    elif not findings:
        lines.append("None: every store and product was within its usual range.")
    lines += [_finding_line(f) for f in findings[:LISTED]]
    if len(findings) > LISTED:
        lines.append(f"… and {len(findings) - LISTED} more in the export")
    return [*lines, "", *_section_prose("anomalies", insights)]


def _trend_lines(trends: Mapping[str, Any] | None, insights: Mapping[str, Any]) -> list[str]:
    lines = _heading("Trends")
    for currency, trend in ((trends or {}).get("company") or {}).get("byCurrency", {}).items():
        ma7, ma28 = trend["movingAverage7"], trend["movingAverage28"]
        week = trend["weekOverWeek"]
        lines.append(
            f"{currency}: 7-day average {money(ma7, currency) if ma7 is not None else 'n/a'}, "
            f"28-day average {money(ma28, currency) if ma28 is not None else 'n/a'}, "
            f"week over week {percent(week['ratio'] if week else None)} ({trend['direction'] or 'n/a'}; "
            f"{trend['daysWithData']} of 28 days with data)"
        )
    return [*lines, "", *_section_prose("trends", insights)]


def _recommendation_lines(insights: Mapping[str, Any]) -> list[str]:
    lines = _heading("Recommendations")
    section = insights["sections"]["recommendations"]
    if not section["available"]:
        return [*lines, f"[unavailable: {section['error']}: {section['cause']}]"]
    for number, item in enumerate(section["answer"]["recommendations"], 1):
        lines += [f"{number}. {item['action']}", f"   Why: {item['reason']}"]
    return lines


def render(
    date: str,
    *,
    company: Mapping[str, Any],
    products: Mapping[str, Any] | None,
    anomalies: Mapping[str, Any] | None,
    trends: Mapping[str, Any] | None,
    insights: Mapping[str, Any],
) -> tuple[str, str]:
    """``(subject, body)`` of the day's report."""
    lines = [f"stepworks daily sales report for {date}", "=" * WIDTH]
    lines += _company_lines(company)
    lines += _product_lines(products)
    lines += _anomaly_lines(anomalies, insights)
    lines += _trend_lines(trends, insights)
    lines += _recommendation_lines(insights)
    unavailable = insights["unavailable"]
    lines += _heading("Unavailable")
    lines += [f"- {u['section']}: {u['error']}: {u['cause']}" for u in unavailable] or [
        "Nothing: every section was written."
    ]
    usage = insights["usage"]["total"]
    lines += [
        "",
        f"Narrative by {insights['model']}: {usage['calls']} calls, {usage['inputTokens']:,} input and "
        f"{usage['outputTokens']:,} output tokens. The figures and findings are computed, not generated.",
        f"Execution {insights['execution']}.",
    ]
    return subject(date, company), "\n".join(lines) + "\n"


def bounded(body: str, location: str, limit: int = MESSAGE_LIMIT_BYTES) -> str:
    """``body`` if its UTF-8 fits ``limit`` bytes; else its start, cut at a line end (never inside a
    character), and a last line saying the report is cut and where the whole of it is."""
    if len(body.encode("utf-8")) <= limit:
        return body
    footer = f"\n[… the report is cut here to fit the e-mail; the full report is at {location}]\n"
    room = limit - len(footer.encode("utf-8"))
    if room <= 0:
        raise ValueError(f"a limit of {limit} bytes leaves no room for the report")
    start = body.encode("utf-8")[:room].decode("utf-8", "ignore")
    line_end = start.rfind("\n")
    return (start[:line_end] if line_end > len(start) // 2 else start) + footer
