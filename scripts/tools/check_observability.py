#!/usr/bin/env python3
"""Checks the dashboards and the Prometheus rules against a live Prometheus.

- every dashboard has a uid, a title, and panels that each have a datasource and targets;
- every PromQL expression of the dashboards and of the recording rules parses
  and returns data;
- every alert expression parses, and every metric it reads has data.

Usage: check_observability.py PROMETHEUS_URL
Prints one line per expression and "N passed, N failed" at the end.
"""
import json
import pathlib
import re
import sys
import urllib.parse
import urllib.request

import yaml

ROOT = pathlib.Path(__file__).resolve().parents[2]
PROM = sys.argv[1].rstrip("/")
passed, failed = 0, 0


def result(ok, what):
    global passed, failed
    if ok:
        passed += 1
        print(f"  ok    {what}")
    else:
        failed += 1
        print(f"  FAIL  {what}")


def query(expr):
    url = f"{PROM}/api/v1/query?" + urllib.parse.urlencode({"query": expr})
    try:
        with urllib.request.urlopen(url, timeout=10) as r:
            body = json.load(r)
    except urllib.error.HTTPError as e:
        body = json.load(e)
    return body


def has_data(body):
    return body.get("status") == "success" and len(body.get("data", {}).get("result", [])) > 0


METRIC = re.compile(r"\b([a-z_][a-z0-9_]*(?::[a-z0-9_]+)*)\s*(?:\{|\[|\))")
FUNCTIONS = {"sum", "rate", "histogram_quantile", "clamp_min", "deriv", "max", "min", "avg", "count", "by", "on", "vector",
             "and", "or", "time", "increase", "irate", "abs", "without", "label_replace", "topk", "bottomk"}

print("dashboards:")
for path in sorted((ROOT / "grafana" / "dashboards").glob("*.json")):
    d = json.loads(path.read_text())
    result(bool(d.get("uid")) and bool(d.get("title")), f"{path.name}: uid and title")
    panels = d.get("panels", [])
    result(len(panels) > 0, f"{path.name}: has panels")
    for p in panels:
        result(bool(p.get("datasource")) and bool(p.get("targets")), f"{path.name}: panel '{p.get('title')}' has a datasource and targets")
        for t in p.get("targets", []):
            expr = t["expr"]
            result(has_data(query(expr)), f"{p.get('title')}: {expr}")

print("rules:")
rules = yaml.safe_load((ROOT / "prometheus" / "rules.yml").read_text())
recorded = {r["record"]: r["expr"] for g in rules["groups"] for r in g["rules"] if "record" in r}


def metric_has_data(name):
    # A recorded series may not have been evaluated yet: then its own expression must have data.
    return has_data(query(f"count({name})")) or (name in recorded and has_data(query(recorded[name])))


for group in rules["groups"]:
    for rule in group["rules"]:
        expr = rule["expr"]
        body = query(expr)
        if "record" in rule:
            result(has_data(body), f"record {rule['record']}: {expr}")
        else:
            ok = body.get("status") == "success"
            names = [m for m in METRIC.findall(expr) if m not in FUNCTIONS]
            missing = [m for m in names if not metric_has_data(m)]
            result(ok and not missing, f"alert {rule['alert']}: parses{'' if not missing else '; no data for ' + ', '.join(missing)}")

print(f"observability: {passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
