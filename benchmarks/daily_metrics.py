"""Daily-analysis statistics: the pipeline's streaming metrics beside pandas on one day's snapshot.

    python benchmarks/daily_metrics.py [--stores 1000] [--products 2000] [--weeks 4] [--repeat 3] [--keep DIR]

Generates (numpy, seeded) the day's snapshot — one store-day row per store in the shape
daily-analysis reads, every product a store sold in three parallel arrays, written as NDJSON —
and 28 days of history (store rows and product rows per day, one JSON file each), with two
stores and two products planted as anomalies (a 5× spike and a drop to a fifth of the usual).
Then computes, in two child processes, one per approach, so each one's peak RSS is its own:

* pipeline — the snapshot streamed line by line (``json.loads`` per row) into ``store_rows`` and
             ``ProductTotals`` (nothing kept per store and product), then ``company_metrics``
             (previous day, same weekday last week), ``product_metrics``, ``store_anomalies`` and
             ``product_anomalies`` against the same weekday of the last ``--weeks`` weeks;
* pandas   — ``read_json(lines=True)`` of the snapshot, ``explode`` of the product arrays,
             ``groupby`` sums, sorts and merges for the rankings, and the same anomaly rule with
             ``groupby`` medians and MADs over the long history frame.

Both read the same history files, the time covering everything after imports. Both results —
company headline, changes and store rankings, product rankings and categories, every finding —
are compared (ints exactly, ratios and z to 1e-4); a difference fails the run. Each approach runs
``--repeat`` times, alternating which goes first; the best run is reported (median beside it).
Peak memory is the child's ``ru_maxrss`` (resource.getrusage, RUSAGE_SELF), the same measure
as ``upload_etl``; what the work added over the imports is printed beside it.

Then, outside the timing, the largest state of the execution at that scale: the real definition
(``infra.workflows.daily_analysis.definition``) walked as Step Functions runs it (Parameters,
ResultSelector, ResultPath, OutputPath, Choice, Parallel) with each step answering what its handler
answers (``pipelines.analysis.state`` over the results just computed, the report rendered by
``report.render``), every model answer at its schema's maximum in 3-byte characters. Two runs: every
section written, and every section unavailable with a Lambda error Cause of the longest message a
handler raises (500 3-byte characters) and a stack trace. Printed: the largest state input or output
(and task parameters) in UTF-8 bytes, and where it is.
"""

from __future__ import annotations

import argparse
import json
import math
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

# `make bench` runs this file as a script: make the repository importable.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

AS_OF = "2026-11-20"
HISTORY_DAYS = 28
CURRENCIES = {"EUR": (0.35, 1.0), "USD": (0.30, 1.1), "GBP": (0.15, 0.85), "CHF": (0.10, 0.95), "SEK": (0.10, 11.0)}
WEEKDAY_FACTOR = [1.0, 0.9, 0.95, 1.0, 1.15, 1.4, 0.8]  # Monday … Sunday
CATEGORIES = {"grocery": ["P00"], "household": ["P01"], "garden": ["P015", "P016"], "toys": ["P019"]}
TARGET_PEAK_MIB = 1536
TARGET_PAYLOAD_BYTES = 64 * 1024
LIMIT = 10


def _rss_kib() -> int:
    # Current RSS from /proc (Linux); ru_maxrss alone would only give the peak.
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def day(offset: int) -> str:
    """The ISO date ``offset`` days before AS_OF."""
    return (date.fromisoformat(AS_OF) - timedelta(days=offset)).isoformat()


def generate(folder: Path, stores: int, products: int, seed: int = 2026) -> dict:
    """Write ``snapshot.ndjson`` and ``history/<date>.{stores,products}.json``; sizes for the report."""
    import numpy as np

    rng = np.random.default_rng(seed)
    names = list(CURRENCIES)
    store_ids = [f"S{n:04d}" for n in range(stores)]
    product_ids = [f"P{n:05d}" for n in range(1, products + 1)]
    currency = rng.choice(len(names), size=stores, p=[share for share, _ in CURRENCIES.values()])
    size = rng.lognormal(0.0, 0.4, size=stores)
    rate = rng.lognormal(2.0, 1.0, size=products)  # units a day in an average store: a long tail
    base_price = rng.integers(79, 4_999, size=products)
    price = {c: np.rint(base_price * factor).astype(np.int64) for c, (_, factor) in CURRENCIES.items()}
    refund_share = 0.02

    def weekday(offset: int) -> float:
        return WEEKDAY_FACTOR[(date.fromisoformat(AS_OF) - timedelta(days=offset)).weekday()]

    # Today's snapshot, one store at a time (it is never in memory as a whole).
    # Planted: one store and one product at 5× their usual, one of each at a fifth.
    store_boost = {store_ids[7 % stores]: 5.0, store_ids[42 % stores]: 0.2}
    product_boost = np.ones(products)
    product_boost[products * 5 // 8] = 5.0
    product_boost[products // 26] = 0.2
    entries = 0
    snapshot = folder / "snapshot.ndjson"
    hour_weights = np.array([0] * 7 + [2, 4, 6, 8, 9, 10, 9, 8, 8, 9, 10, 9, 6, 3, 1, 0, 0], dtype=float)
    with snapshot.open("w", encoding="ascii") as out:
        for s, store in enumerate(store_ids):
            boost = store_boost.get(store, 1.0)
            expected = rate * size[s] * weekday(0) * boost * product_boost
            sold = rng.poisson(expected)
            returned = rng.poisson(expected * refund_share)
            keep = (sold > 0) | (returned > 0)
            cur = names[currency[s]]
            net = (sold - returned)[keep]
            unit_price = price[cur][keep]
            revenue = net * unit_price
            total = int(revenue.sum())
            hourly = np.floor(total * hour_weights / hour_weights.sum()).astype(np.int64)
            hourly[12] += total - int(hourly.sum())
            refunded = returned[keep]
            row = {
                "storeId": store,
                "businessDate": AS_OF,
                "currency": cur,
                "revenue": total,
                "units": int(net.sum()),
                "transactions": max(1, int(sold.sum()) // 4),
                "refundLines": int((refunded > 0).sum()),
                "refundUnits": int(refunded.sum()),
                "refundAmount": int((refunded * unit_price).sum()),
                "hourlyRevenue": hourly.tolist(),
                "productIds": [product_ids[i] for i in np.flatnonzero(keep)],
                "productUnits": net.tolist(),
                "productRevenue": revenue.tolist(),
            }
            entries += len(row["productIds"])
            out.write(json.dumps(row, separators=(",", ":")) + "\n")

    # History: company-level product totals per currency, store totals with 5 % noise.
    history = folder / "history"
    history.mkdir(exist_ok=True)
    expected_store = np.array([(rate * price[names[currency[s]]]).sum() * size[s] for s in range(stores)])
    expected_units = np.array([rate.sum() * size[s] for s in range(stores)])
    size_by_currency = {c: size[currency == i].sum() for i, c in enumerate(names)}
    history_bytes = 0
    for offset in range(1, HISTORY_DAYS + 1):
        factor = weekday(offset) * (1 - refund_share)
        noise = rng.normal(1.0, 0.05, size=stores)
        revenue = np.rint(expected_store * factor * noise).astype(np.int64)
        units = np.rint(expected_units * factor * noise).astype(np.int64)
        store_rows = [
            {
                "storeId": store,
                "currency": names[currency[s]],
                "revenue": int(revenue[s]),
                "units": int(units[s]),
                "transactions": max(1, int(units[s]) // 4),
                "refundLines": 0,
                "refundUnits": 0,
                "refundAmount": 0,
                "averageBasket": int(revenue[s]) // max(1, int(units[s]) // 4),
            }
            for s, store in enumerate(store_ids)
        ]
        product_rows = []
        for c in names:
            sold = rng.poisson(rate * size_by_currency[c] * factor)
            product_rows += [
                {"productId": p, "currency": c, "units": int(sold[i]), "revenue": int(sold[i] * price[c][i])}
                for i, p in enumerate(product_ids)
                if sold[i]
            ]
        product_rows.sort(key=lambda r: (r["productId"], r["currency"]))
        for kind, rows in (("stores", store_rows), ("products", product_rows)):
            path = history / f"{day(offset)}.{kind}.json"
            path.write_text(json.dumps(rows, separators=(",", ":")), encoding="ascii")
            history_bytes += path.stat().st_size
    return {"snapshot_bytes": snapshot.stat().st_size, "entries": entries, "history_bytes": history_bytes}


def history_paths(folder: str, weeks: int) -> dict:
    """The history files each approach reads: previous day, last week, and ``weeks`` same weekdays (oldest first)."""
    history = Path(folder) / "history"
    return {
        "previous": str(history / f"{day(1)}.stores.json"),
        "last_week": str(history / f"{day(7)}.stores.json"),
        "store_weeks": [str(history / f"{day(7 * w)}.stores.json") for w in range(weeks, 0, -1)],
        "product_weeks": [str(history / f"{day(7 * w)}.products.json") for w in range(weeks, 0, -1)],
    }


def run_pipeline(folder: str, weeks: int) -> tuple[dict, dict, dict]:
    """The pipeline's statistics; (figures, results to compare, what the state walk needs)."""
    from pipelines.analysis.anomalies import product_anomalies, store_anomalies
    from pipelines.analysis.categories import CategoryMap
    from pipelines.analysis.metrics import ProductTotals, company_metrics, product_metrics, store_rows

    base = _rss_kib()
    start = time.perf_counter()
    paths = history_paths(folder, weeks)
    totals = ProductTotals()

    def snapshot():
        with open(Path(folder) / "snapshot.ndjson", "rb") as lines:
            for line in lines:
                row = json.loads(line)
                totals.add(row)
                yield row

    def load(path: str) -> list:
        with open(path, "rb") as stream:
            return json.load(stream)

    stores = store_rows(snapshot())
    products = totals.rows()
    company = company_metrics(stores, load(paths["previous"]), load(paths["last_week"]), LIMIT)
    summary = product_metrics(products, CategoryMap.from_setting(CATEGORIES), LIMIT)
    store_findings = store_anomalies(stores, [load(p) for p in paths["store_weeks"]])
    product_findings = product_anomalies(products, [load(p) for p in paths["product_weeks"]])
    elapsed = time.perf_counter() - start
    figures = {"seconds": elapsed, "base_kib": base, "stores": len(stores), "product_rows": len(products)}
    computed = {"company": company, "products": summary, "findings": store_findings + product_findings}
    computed |= {"stores": stores, "folder": folder}
    return figures, comparable(company, summary, store_findings + product_findings), computed


def comparable(company: dict, products: dict, findings: list) -> dict:
    """What both approaches must agree on: headline, rankings, categories, findings."""
    return {
        "company": company["byCurrency"],
        "products": products,
        "findings": findings,
    }


def run_pandas(folder: str, weeks: int) -> tuple[dict, dict]:
    """The same results with pandas: read_json, explode, groupby; (figures, results to compare)."""
    import numpy as np
    import pandas as pd

    base = _rss_kib()
    start = time.perf_counter()
    paths = history_paths(folder, weeks)
    day_rows = pd.read_json(Path(folder) / "snapshot.ndjson", lines=True, dtype=False)
    totals = ["revenue", "units", "transactions", "refundLines", "refundUnits", "refundAmount"]
    stores = day_rows[["storeId", "currency", *totals]].copy()
    lines = day_rows[["currency", "productIds", "productUnits", "productRevenue"]].explode(
        ["productIds", "productUnits", "productRevenue"]
    )
    del day_rows
    lines = lines.dropna(subset=["productIds"]).astype({"productUnits": "int64", "productRevenue": "int64"})
    products = lines.groupby(["productIds", "currency"], as_index=False)[["productUnits", "productRevenue"]].sum()
    del lines
    products.columns = ["productId", "currency", "units", "revenue"]
    products = products[(products["units"] != 0) | (products["revenue"] != 0)]

    def ratio(numerator: pd.Series, denominator: pd.Series) -> pd.Series:
        return (numerator / denominator).where(denominator > 0).round(4)

    def basket(revenue: pd.Series, transactions: pd.Series) -> pd.Series:
        return (revenue / transactions.where(transactions > 0)).round().fillna(0).astype("int64")

    # Company headline, changes and store rankings.
    previous = pd.read_json(paths["previous"], dtype=False)
    last_week = pd.read_json(paths["last_week"], dtype=False)
    before_sums = {
        label: frame.groupby("currency").agg(
            stores=("storeId", "count"),
            revenue=("revenue", "sum"),
            transactions=("transactions", "sum"),
            units=("units", "sum"),
        )
        for label, frame in (("previousDay", previous), ("sameWeekdayLastWeek", last_week))
    }
    company = {}
    last_week = last_week[["storeId", "currency", "revenue"]].rename(columns={"revenue": "lastWeek"})
    ranked = stores.merge(last_week, "left", ["storeId", "currency"])
    ranked = ranked.sort_values(["currency", "revenue", "storeId"], ascending=[True, False, True])
    for cur, group in ranked.groupby("currency", sort=True):
        sums = group[totals].sum()
        group = group.assign(
            rank=np.arange(1, len(group) + 1),
            share=ratio(group["revenue"], pd.Series(sums["revenue"], index=group.index)),
            vsLastWeek=ratio(group["revenue"], group["lastWeek"]),
        )
        cols = ["rank", "storeId", "revenue", "share", "vsLastWeek"]
        headline = {
            "stores": len(group),
            "revenue": int(sums["revenue"]),
            "transactions": int(sums["transactions"]),
            "units": int(sums["units"]),
        }
        headline["averageBasket"] = int(basket(pd.Series([sums["revenue"]]), pd.Series([sums["transactions"]]))[0])
        changes = {}
        for label, frame in before_sums.items():
            changes[label] = None
            if cur in frame.index:
                then = {k: int(v) for k, v in frame.loc[cur].items()}
                then["averageBasket"] = int(basket(pd.Series([then["revenue"]]), pd.Series([then["transactions"]]))[0])
                changes[label] = {
                    k: {
                        "before": then[k],
                        "after": headline[k],
                        "change": headline[k] - then[k],
                        "ratio": round(headline[k] / then[k], 4) if then[k] > 0 else None,
                    }
                    for k in headline
                }
        company[cur] = {
            **headline,
            "refunds": {
                "lines": int(sums["refundLines"]),
                "units": int(sums["refundUnits"]),
                "amount": int(sums["refundAmount"]),
            },
            "changes": changes,
            "ranking": records(group[cols].head(LIMIT)),
            "bottom": records(group[cols].tail(LIMIT).iloc[::-1]),
        }

    # Product rankings and categories (longest prefix first, vectorised per prefix length).
    ids = pd.Series(products["productId"].unique())
    prefixes = {p: name for name, ps in CATEGORIES.items() for p in ps}
    category = pd.Series(pd.NA, index=ids.index, dtype="object")
    for length in sorted({len(p) for p in prefixes}, reverse=True):
        category = category.fillna(ids.str[:length].map(prefixes))
    category = pd.Series(category.fillna("uncategorised").to_numpy(), index=ids.to_numpy())
    products["category"] = products["productId"].map(category)

    def top_bottom(frame: pd.DataFrame, field: str) -> tuple[list, list]:
        frame = frame[frame[field] > 0].sort_values([field, "productId"], ascending=[False, True])
        frame = frame.assign(rank=np.arange(1, len(frame) + 1))[["rank", "productId", "category", field]]
        return records(frame.head(LIMIT)), records(frame.tail(LIMIT).iloc[::-1])

    units = products.groupby(["productId", "category"], as_index=False)["units"].sum()
    top_units, bottom_units = top_bottom(units, "units")
    top_revenue, bottom_revenue = {}, {}
    for cur, group in products.groupby("currency", sort=True):
        top_revenue[cur], bottom_revenue[cur] = top_bottom(group, "revenue")
    names = [*sorted(CATEGORIES), "uncategorised"]
    per_category = products.groupby("category").agg(products=("productId", "nunique"), units=("units", "sum"))
    per_category = per_category.reindex(names, fill_value=0)
    money = products.groupby(["category", "currency"])["revenue"].sum()
    summary = {
        "productCount": int(products["productId"].nunique()),
        "topByUnits": top_units,
        "bottomByUnits": bottom_units,
        "topByRevenue": top_revenue,
        "bottomByRevenue": bottom_revenue,
        "categories": {
            name: {
                "products": int(per_category.loc[name, "products"]),
                "units": int(per_category.loc[name, "units"]),
                "revenue": {c: int(v) for (n, c), v in money.items() if n == name},
            }
            for name in names
        },
    }

    # Anomalies: long history frames, groupby median and MAD, the same rule and fallbacks.
    store_weeks = pd.concat(
        [
            pd.read_json(p, dtype=False)[["storeId", "currency", "revenue"]].assign(week=w)
            for w, p in enumerate(paths["store_weeks"])
        ]
    )
    store_weeks = store_weeks.merge(stores[["storeId", "currency"]], on=["storeId", "currency"])  # same currency
    store_findings = findings(
        stores.set_index("storeId")["revenue"],
        store_weeks.rename(columns={"storeId": "id", "revenue": "value"}),
        weeks,
        "store",
        "revenue",
        min_baseline=10_000,
        missing_as_zero=False,
        currency=stores.set_index("storeId")["currency"],
    )
    product_weeks = pd.concat(
        [
            pd.read_json(p, dtype=False)[["productId", "units"]].assign(week=w)
            for w, p in enumerate(paths["product_weeks"])
        ]
    )
    product_weeks = product_weeks.groupby(["productId", "week"], as_index=False)["units"].sum()
    product_findings = findings(
        products.groupby("productId")["units"].sum(),
        product_weeks.rename(columns={"productId": "id", "units": "value"}),
        weeks,
        "product",
        "units",
        min_baseline=20,
        missing_as_zero=True,
    )
    elapsed = time.perf_counter() - start
    figures = {"seconds": elapsed, "base_kib": base, "stores": len(stores), "product_rows": len(products)}
    return figures, {"company": company, "products": summary, "findings": store_findings + product_findings}


def plain(value):
    """A numpy scalar as its Python value, NaN as None."""
    if isinstance(value, float) and math.isnan(value):
        return None
    return value.item() if hasattr(value, "item") else value


def records(frame) -> list[dict]:
    """A frame's rows as JSON-ready dicts."""
    return [{k: plain(v) for k, v in row.items()} for row in frame.to_dict("records")]


def findings(
    today, history, weeks: int, kind: str, metric: str, min_baseline: float, missing_as_zero: bool, currency=None
) -> list[dict]:
    """The anomaly rule (z 3.5, change 0.3, 3 points, ``min_baseline``) over a long (id, week, value) frame."""
    import numpy as np
    import pandas as pd

    if missing_as_zero:
        keys = today.index.union(pd.Index(history["id"].unique()))
        today = today.reindex(keys, fill_value=0)
        grid = pd.MultiIndex.from_product([keys, range(weeks)], names=["id", "week"])
        history = history.set_index(["id", "week"])["value"].reindex(grid, fill_value=0).reset_index()
    else:
        history = history[history["id"].isin(today.index)]
    grouped = history.groupby("id")["value"]
    median = grouped.median()
    points = grouped.count()
    history = history.assign(dev=(history["value"] - history["id"].map(median)).abs())
    mad = history.groupby("id")["dev"].median()
    mean_ad = history.groupby("id")["dev"].mean()
    value = today.reindex(median.index)
    diff = value - median
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(
            mad > 0,
            0.6745 * diff / mad,
            np.where(mean_ad > 0, diff / (1.253314 * mean_ad), np.where(diff == 0, 0.0, np.sign(diff) * np.inf)),
        )
    z = pd.Series(z, index=median.index)
    hit = (points >= 3) & (median >= min_baseline) & (diff.abs() >= 0.3 * median) & (z.abs() >= 3.5)
    series = history.pivot(index="id", columns="week", values="value").reindex(columns=range(weeks))
    out = []
    for key in sorted(median.index[hit], key=lambda k: (-abs(z[k]), k)):
        entry = {"kind": kind, "id": key}
        if currency is not None:
            entry["currency"] = currency[key]
        entry.update(
            metric=metric,
            value=int(value[key]),
            median=float(median[key]),
            mad=float(mad[key]),
            zScore=round(float(z[key]), 4) if np.isfinite(z[key]) else None,
            ratio=round(float(value[key] / median[key]), 4),
            direction="spike" if value[key] > median[key] else "drop",
            history=[None if pd.isna(v) else int(v) for v in series.loc[key]],
        )
        out.append(entry)
    return out


def differences(ours, theirs, where: str = "") -> list[str]:
    """Where two results differ: ints and strings exactly, floats to 1e-4 (ratios and z are rounded to 4 places)."""
    if isinstance(ours, dict) and isinstance(theirs, dict):
        if list(ours) != list(theirs):
            return [f"{where}: keys {list(ours)} != {list(theirs)}"]
        return [d for k in ours for d in differences(ours[k], theirs[k], f"{where}.{k}")]
    if isinstance(ours, list) and isinstance(theirs, list):
        if len(ours) != len(theirs):
            return [f"{where}: {len(ours)} items != {len(theirs)}"]
        return [
            d for i, (a, b) in enumerate(zip(ours, theirs, strict=True)) for d in differences(a, b, f"{where}[{i}]")
        ]
    if isinstance(ours, float) or isinstance(theirs, float):
        if ours is not None and theirs is not None and abs(ours - theirs) <= 1.0001e-4:
            return []
    if ours == theirs:
        return []
    return [f"{where}: {ours!r} != {theirs!r}"]


def child(approach: str, folder: str, weeks: int, out: str) -> None:
    """Run one approach; print its figures as JSON with this process's peak RSS; write its results to ``out``."""
    figures, results, *computed = {"pipeline": run_pipeline, "pandas": run_pandas}[approach](folder, weeks)
    figures["peak_kib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    if computed:  # after the peak is taken: the walk imports the program and renders the report
        figures["states"] = {
            outcome: largest_state(computed[0], weeks, available=outcome == "written")
            for outcome in ("written", "unavailable")
        }
    Path(out).write_text(json.dumps(results), encoding="utf-8")
    print(json.dumps(figures))


# -- the largest state of the execution ----------------------------------------------------------------


class TaskFailed(Exception):
    """A Lambda step failing (after its retries) with ``error`` and ``cause``: the walk takes its Catch."""

    def __init__(self, error: str, cause: str):
        super().__init__(error)
        self.error, self.cause = error, cause


def _path(document, path: str, context: dict):
    """A reference path (``$``, ``$.a.b``, ``$$.Execution.Name``) into the state or the context object."""
    root, rest = (context, path[2:]) if path.startswith("$$") else (document, path[1:])
    for part in filter(None, rest.split(".")):
        root = root[part]
    return root


def _parameters(template, document, context: dict):
    """Parameters / ResultSelector: ``key.$`` values are paths (an intrinsic call stands as a short string)."""
    if isinstance(template, dict):
        out = {}
        for key, value in template.items():
            if key.endswith(".$"):
                out[key[:-2]] = f"<{value[:40]}>" if value.startswith("States.") else _path(document, value, context)
            else:
                out[key] = _parameters(value, document, context)
        return out
    if isinstance(template, list):
        return [_parameters(v, document, context) for v in template]
    return template


def _result_path(document, result, path):
    if path is None:
        return document
    if path == "$":
        return result
    merged = json.loads(json.dumps(document))
    node, parts = merged, path[2:].split(".")
    for part in parts[:-1]:
        node = node.setdefault(part, {})
    node[parts[-1]] = result
    return merged


def walk(machine: dict, document, answers: dict, context: dict, sizes: list):
    """Run ``machine`` on ``document`` as Step Functions would, each Lambda task answering
    ``answers[FunctionName](payload)``; (size, where) of every state input, output and task parameters
    go to ``sizes``. A ``TaskFailed`` takes the first Catch naming its error (or the Parallel's)."""

    def measure(value, where: str):
        sizes.append((len(json.dumps(value, ensure_ascii=False).encode("utf-8")), where))

    name = machine["StartAt"]
    while True:
        state = machine["States"][name]
        measure(document, f"{name} input")
        kind = state["Type"]
        if kind == "Choice":
            (rule,) = state["Choices"]
            test = next(k for k in rule if k not in ("Variable", "Next"))
            name = rule["Next"] if _path(document, rule["Variable"], context) == rule[test] else state["Default"]
            continue
        if kind in ("Succeed", "Fail"):
            return document
        try:
            if kind == "Parallel":
                result = [walk(branch, document, answers, context, sizes) for branch in state["Branches"]]
            elif kind == "Pass":
                result = _parameters(state["Parameters"], document, context) if "Parameters" in state else document
            else:
                parameters = _parameters(state["Parameters"], document, context)
                measure(parameters, f"{name} parameters")
                lambda_task = "lambda:invoke" in state["Resource"]
                result = (
                    {"Payload": answers[parameters["FunctionName"]](parameters.get("Payload"))} if lambda_task else {}
                )
        except TaskFailed as failed:
            catcher = next(c for c in state.get("Catch", []) if {failed.error, "States.ALL"} & set(c["ErrorEquals"]))
            error = {"Error": failed.error, "Cause": failed.cause}
            document, name = _result_path(document, error, catcher.get("ResultPath", "$")), catcher["Next"]
            continue
        if "ResultSelector" in state:
            result = _parameters(state["ResultSelector"], result, context)
        document = _result_path(document, result, state.get("ResultPath", "$"))
        if "OutputPath" in state:
            document = _path(document, state["OutputPath"], context)
        measure(document, f"{name} output")
        if state.get("End"):
            return document
        name = state["Next"]


def largest_state(computed: dict, weeks: int, available: bool) -> dict:
    """The largest state of a daily-analysis execution over this run's results: bytes, and where."""
    from infra.integrations import TopicRef
    from infra.workflows import daily_analysis
    from pipelines.analysis import report, state, trends
    from pipelines.analysis.answers import NARRATIVE, RECOMMENDATIONS, longest
    from pipelines.analysis.history import history_dates
    from pipelines.analysis.insights import combine, resolve

    keys = ("validate", "summaries", "company", "products", "anomalies", "trends", "recommend", "combine", "report")
    arn = "arn:aws:{}:us-west-2:123456789012:{}:sw-prod-daily-analysis-{}".format
    refs = {key: arn("lambda", "function", key) for key in (*keys, "export")}
    refs |= {topic: TopicRef(arn("sns", "topic", topic)) for topic in ("alerts", "reports")}
    machine = daily_analysis.definition({**refs, "taskTimeout": "330"}).document
    company, products, found = computed["company"], computed["products"], computed["findings"]
    history = Path(computed["folder"]) / "history"
    daily = {day(o): json.loads((history / f"{day(o)}.stores.json").read_text()) for o in range(1, 28)}
    daily[AS_OF] = computed["stores"]
    trend = {"date": AS_OF, "company": trends.company_trends(daily, AS_OF), "movers": trends.store_movers(daily, AS_OF)}
    execution, model = "schedule-" + "f" * 64, "us.amazon.nova-lite-v1:0"  # the schedule's longest run names
    stored = {}  # the narratives the Bedrock steps put in the bucket, by key
    # A Lambda error's Cause: the longest message a handler raises (500 characters), in 3-byte
    # characters, and a stack trace through handler, narrator and client.
    frames = [f'  File "/var/task/pipelines/analysis/{m}.py", line 100, in {m}\n    {"x" * 80}\n' for m in "abcdef"]
    cause = json.dumps({"errorMessage": "語" * 500, "errorType": "BedrockUnavailableError", "stackTrace": frames})

    def bedrock(name: str, schema: dict, **counts):
        def answer(payload):
            if not available:
                raise TaskFailed("BedrockUnavailableError", cause)
            narrative = {"section": name, "available": True, "answer": longest(schema), "usage": {}, "prompt": "p"}
            stored[state.section(name, AS_OF)["narrativeKey"]] = narrative
            return state.section(name, AS_OF, **counts)

        return answer

    def insights(payload):
        sections = resolve(AS_OF, [*payload["analysis"], payload["recommendations"]], stored.get)
        stored["insights"] = combine(AS_OF, payload["execution"], sections, model)
        return state.insights(stored["insights"])

    def reported(payload):
        parts = {"company": company, "products": products, "anomalies": {"findings": found}, "trends": trend}
        subject, body = report.render(AS_OF, insights=stored["insights"], **parts)
        return state.report_message(subject, body, "sw-prod-daily-analysis-data-0123456", AS_OF)

    answers = {
        refs["validate"]: lambda payload: {"date": AS_OF},
        refs["summaries"]: lambda p: state.summaries(company["storeCount"], AS_OF, history_dates(AS_OF, weeks)),
        refs["company"]: lambda payload: state.company(company),
        refs["products"]: lambda payload: state.products(products),
        refs["anomalies"]: bedrock("anomalies", NARRATIVE, findings=len(found)),
        refs["trends"]: bedrock("trends", NARRATIVE, days=len(daily)),
        refs["recommend"]: bedrock("recommendations", RECOMMENDATIONS),
        refs["combine"]: insights,
        refs["report"]: reported,
        refs["export"]: lambda payload: state.export(AS_OF, {"store-metrics": company["storeCount"]}),
    }
    sizes: list = []
    walk(machine, {}, answers, {"Execution": {"Name": execution}}, sizes)
    largest, where = max(sizes)
    return {"bytes": largest, "where": where, "measured": len(sizes)}


def measure(approach: str, folder: str, weeks: int) -> tuple[dict, dict]:
    """Run ``approach`` in a fresh interpreter; its figures and results."""
    out = str(Path(folder) / f"{approach}.result.json")
    done = subprocess.run(
        [sys.executable, __file__, "--child", approach, folder, str(weeks), out],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(done.stdout.strip().splitlines()[-1]), json.loads(Path(out).read_text(encoding="utf-8"))


def main(stores: int, products: int, weeks: int, repeat: int, keep: str | None) -> dict:
    """Generate, measure both approaches, compare, print and return the figures."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(keep or tmp)
        folder.mkdir(parents=True, exist_ok=True)
        started = time.perf_counter()
        sizes = generate(folder, stores, products)
        print(
            f"snapshot: {sizes['snapshot_bytes'] / 1e6:.1f} MB NDJSON, {stores:,} stores, "
            f"{sizes['entries']:,} (store, product) entries; history: {HISTORY_DAYS} days of store and product rows, "
            f"{sizes['history_bytes'] / 1e6:.1f} MB JSON (generated in {time.perf_counter() - started:.1f} s); "
            f"anomalies over the last {weeks} same weekdays"
        )
        runs: dict[str, list[dict]] = {"pipeline": [], "pandas": []}
        results = {}
        for attempt in range(repeat):
            for approach in list(runs) if attempt % 2 == 0 else list(reversed(runs)):
                figures, results[approach] = measure(approach, str(folder), weeks)
                runs[approach].append(figures)
    figures = {}
    for approach, measured in runs.items():
        best = min(measured, key=lambda r: r["seconds"])
        best["median_seconds"] = statistics.median(r["seconds"] for r in measured)
        best["peak_kib"] = max(r["peak_kib"] for r in measured)
        figures[approach] = best
    for name, f in figures.items():
        print(
            f"  {name:<9} {f['seconds']:6.2f} s (median {f['median_seconds']:.2f})"
            f"  peak RSS {f['peak_kib'] / 1024:7.1f} MiB"
            f"  (+{(f['peak_kib'] - f['base_kib']) / 1024:.1f} MiB over its imports)"
        )
    pipe, pandas = figures["pipeline"], figures["pandas"]
    print(
        f"  pipeline / pandas: {pandas['seconds'] / pipe['seconds']:.2f}x speed, "
        f"{pipe['peak_kib'] / pandas['peak_kib']:.2f}x peak RSS, "
        f"{(pipe['peak_kib'] - pipe['base_kib']) / max(1, pandas['peak_kib'] - pandas['base_kib']):.2f}x memory added"
    )
    diffs = differences(results["pipeline"], results["pandas"])
    found = results["pipeline"]["findings"]
    listed = ", ".join(f"{f['id']} {f['direction']}" for f in found)
    print(
        f"  same results: {'yes' if not diffs else 'NO'} ({pipe['stores']:,} stores, "
        f"{pipe['product_rows']:,} product rows, {len(found)} findings: {listed})"
    )
    for line in diffs[:10]:
        print(f"    {line}")
    states = pipe["states"]
    cases = (
        ("written", "every model answer at its longest in 3-byte characters"),
        ("unavailable", "every Bedrock section unavailable, each Cause 500 3-byte characters and a trace"),
    )
    for outcome, what in cases:
        largest = states[outcome]
        print(
            f"  largest state ({what}): {largest['bytes']:,} bytes "
            f"at {largest['where']} (of {largest['measured']} inputs, outputs and parameters); "
            f"target < {TARGET_PAYLOAD_BYTES:,}"
        )
    largest_bytes = max(largest["bytes"] for largest in states.values())
    verdicts = {
        "pipeline no slower than pandas": pipe["seconds"] <= pandas["seconds"],
        f"pipeline peak within {TARGET_PEAK_MIB} MiB": pipe["peak_kib"] / 1024 <= TARGET_PEAK_MIB,
        "largest state under 64 KiB": largest_bytes < TARGET_PAYLOAD_BYTES,
    }
    print("  targets: " + "; ".join(f"{name}: {'met' if ok else 'MISSED'}" for name, ok in verdicts.items()))
    if diffs:
        raise SystemExit("the pipeline and pandas disagree")
    return figures


if __name__ == "__main__":
    if len(sys.argv) == 6 and sys.argv[1] == "--child":
        child(sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5])
        raise SystemExit(0)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stores", type=int, default=1_000)
    parser.add_argument("--products", type=int, default=2_000)
    parser.add_argument("--weeks", type=int, default=4, help="same weekdays of earlier weeks for the anomalies (≤ 4)")
    parser.add_argument("--repeat", type=int, default=3, help="runs per approach; the best is reported (default 3)")
    parser.add_argument("--keep", help="write the generated data to this folder and keep it")
    args = parser.parse_args()
    main(args.stores, args.products, min(4, max(1, args.weeks)), max(1, args.repeat), args.keep)
