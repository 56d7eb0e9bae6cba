#!/usr/bin/env python3
"""Checks that every metric monitoring/alerts.yml and monitoring/dashboard.json name is one the
running servers export: scrapes each URL's /metrics and compares. Exits 1 naming what is missing.
usage: scripts/check-metrics.py http://127.0.0.1:9464 [URL...]   (metrics addresses: UPLOAD_METRICS_ADDR)"""
import json
import re
import sys
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "bool", "and", "or", "unless", "offset", "inf", "nan"}


def metric_names(expr: str) -> set[str]:
    """The metric names in a PromQL expression (functions, labels and keywords left out)."""
    expr = re.sub(r'"(?:[^"\\]|\\.)*"', "", expr)  # label values
    expr = re.sub(r"\{[^}]*\}", "", expr)  # label matchers
    expr = re.sub(r"\b(by|without|on|ignoring)\s*\([^)]*\)", "", expr)  # grouping labels
    expr = re.sub(r"\[[^\]]*\]", "", expr)  # ranges
    names = set()
    for match in re.finditer(r"[a-zA-Z_:][a-zA-Z0-9_:]*", expr):
        rest = expr[match.end():].lstrip()
        if not rest.startswith("(") and match.group() not in KEYWORDS:
            names.add(match.group())
    return names


def used_names() -> dict[str, set[str]]:
    used: dict[str, set[str]] = {}
    alerts = (ROOT / "monitoring/alerts.yml").read_text()
    for expr in re.findall(r"^\s*expr:\s*(.+)$", alerts, re.M):
        for name in metric_names(expr):
            used.setdefault(name, set()).add("alerts.yml")
    dashboard = json.loads((ROOT / "monitoring/dashboard.json").read_text())
    exprs = [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]
    for var in dashboard["templating"]["list"]:
        query = var.get("query", "")
        label_values = re.match(r"label_values\(\s*([a-zA-Z_:][a-zA-Z0-9_:]*)", query)
        if label_values:
            exprs.append(label_values.group(1))
    for expr in exprs:
        for name in metric_names(expr):
            used.setdefault(name, set()).add("dashboard.json")
    return used


def exported(urls: list[str]) -> dict[str, str]:
    """Metric families the servers describe (# TYPE name type), whether or not they have samples yet."""
    types: dict[str, str] = {}
    for url in urls:
        text = urllib.request.urlopen(f"{url.rstrip('/')}/metrics", timeout=10).read().decode()
        for name, kind in re.findall(r"^# TYPE (\S+) (\S+)$", text, re.M):
            types[name] = kind
    return types


def is_exported(name: str, types: dict[str, str]) -> bool:
    if name in types:
        return True
    for suffix, kinds in (("_total", {"counter"}), ("_bucket", {"histogram"}), ("_count", {"histogram", "summary"}), ("_sum", {"histogram", "summary"})):
        if name.endswith(suffix) and types.get(name[: -len(suffix)]) in kinds:
            return True
    return False


def main() -> int:
    urls = sys.argv[1:]
    if not urls:
        print(__doc__)
        return 2
    used, types = used_names(), exported(urls)
    if len(used) < 5 or not types:
        print(f"check-metrics: found {len(used)} names in use and {len(types)} exported: nothing was checked")
        return 1
    missing = {name: where for name, where in used.items() if not is_exported(name, types)}
    for name, where in sorted(missing.items()):
        print(f"check-metrics: {name} (in {', '.join(sorted(where))}) is not exported by {', '.join(urls)}")
    print(f"check-metrics: {len(used) - len(missing)} of {len(used)} metric names in the alerts and the dashboard are exported")
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main())
