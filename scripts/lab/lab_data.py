"""The lab's data, read back: the phases scripts/lab.sh ran (phases.tsv), Locust's CSV files
and the series fetched from Prometheus' HTTP API. Shared by report.py and check_phases.py."""
import csv
import json
import os
import urllib.parse
import urllib.request

# What the pool panels show, per pool, and the colour each series is drawn in (check_report.py
# finds the series in the PNGs by these colours).
POOL_SERIES = {
    "pending": "#d62728",
    "active": "#1f77b4",
    "idle": "#2ca02c",
    "max": "#7f7f7f",
}
SINGLE_SERIES_COLOUR = {
    "requests": "#1f77b4",
    "latency": "#9467bd",
    "failures": "#d62728",
    "deadlocks": "#ff7f0e",
    "timeouts": "#8c564b",
}


def read_phases(out):
    with open(os.path.join(out, "phases.tsv"), newline="") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    for r in rows:
        r["start"], r["end"] = float(r["start"]), float(r["end"])
        r["phase"], r["users"], r["pool"] = int(r["phase"]), int(r["users"]), int(r["pool"])
    if not rows:
        raise ValueError(f"{out}/phases.tsv lists no phase")
    return rows


def _number(text):
    try:
        return float(text)
    except (TypeError, ValueError):
        return None  # Locust writes "N/A" before the first answer


def read_locust_history(out, phase):
    """The Aggregated rows of phase N's stats history: [(t, requests/s, failures/s, p95 ms)]."""
    rows = []
    with open(os.path.join(out, f"phase{phase}_stats_history.csv"), newline="") as f:
        for r in csv.DictReader(f):
            if r["Name"] != "Aggregated":
                continue
            rows.append((float(r["Timestamp"]), _number(r["Requests/s"]), _number(r["Failures/s"]),
                         _number(r["95%"])))
    return rows


def read_locust_totals(out, phase):
    """Phase N's Aggregated totals: requests, failures, p95 ms; and its failures by reason."""
    totals = None
    with open(os.path.join(out, f"phase{phase}_stats.csv"), newline="") as f:
        for r in csv.DictReader(f):
            if r["Name"] == "Aggregated":
                totals = {"requests": int(r["Request Count"]), "failures": int(r["Failure Count"]),
                          "p95_ms": _number(r["95%"]), "requests_per_s": _number(r["Requests/s"])}
    if totals is None:
        raise ValueError(f"phase{phase}_stats.csv has no Aggregated row")
    reasons = {}
    with open(os.path.join(out, f"phase{phase}_failures.csv"), newline="") as f:
        for r in csv.DictReader(f):
            reasons[f"{r['Name']}: {r['Error']}"] = int(r["Occurrences"])
    totals["reasons"] = reasons
    return totals


def query_range(prometheus, query, start, end, step="1s"):
    """Prometheus /api/v1/query_range: [(labels, [(t, value)])]."""
    params = urllib.parse.urlencode({"query": query, "start": start, "end": end, "step": step})
    with urllib.request.urlopen(f"{prometheus}/api/v1/query_range?{params}", timeout=10) as r:
        body = json.load(r)
    if body.get("status") != "success":
        raise RuntimeError(f"Prometheus refused {query!r}: {body}")
    return [(s["metric"], [(float(t), float(v)) for t, v in s["values"]]) for s in body["data"]["result"]]


def fetch_series(prometheus, start, end):
    """Every series the report draws, as plain JSON-able data."""
    data = {"pools": {}, "deadlocks": {}, "timeouts": {}}
    for name in POOL_SERIES:
        for labels, values in query_range(prometheus, f"hikaricp_connections_{name}", start, end):
            key = f"{labels.get('application', '?')} / {labels.get('pool', '?')}"
            data["pools"].setdefault(key, {})[name] = values
    for labels, values in query_range(prometheus, "hikaricp_connections_deadlocks_total", start, end):
        data["deadlocks"][labels.get("application", "?")] = values
    for labels, values in query_range(prometheus, "rate(hikaricp_connections_timeout_total[5s])", start, end):
        data["timeouts"][labels.get("application", "?")] = values
    return data
