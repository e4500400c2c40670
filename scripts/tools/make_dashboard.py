#!/usr/bin/env python3
"""Writes grafana/dashboards/boxoffice.json: the BoxOffice on-sale dashboard.

The panels are listed here once; run this script after changing them.
"""
import json
import pathlib

DS = {"type": "prometheus", "uid": "boxoffice-prometheus"}

# Gauges that every API replica reads alike from Redis (stock, overdue holds, outbox) are
# combined with max, counters and per-replica gauges with sum, so the panels read the same
# with one replica or many; Redis memory is one series per node.
PANELS = [
    # (title, unit, [(expr, legend)], width)
    ("Requests per second by route", "reqps", [('sum by (route) (rate(http_requests_total[1m]))', "{{route}}")], 12),
    ("Error rate (5xx share)", "percentunit", [('(sum(rate(http_requests_total{status=~"5.."}[1m])) or vector(0)) / clamp_min(sum(rate(http_requests_total[1m])), 1e-9)', "5xx")], 12),
    ("Latency p50 / p95 / p99 by route", "s", [
        ('histogram_quantile(0.50, sum by (le, route) (rate(http_request_duration_seconds_bucket[1m])))', "p50 {{route}}"),
        ('histogram_quantile(0.95, sum by (le, route) (rate(http_request_duration_seconds_bucket[1m])))', "p95 {{route}}"),
        ('histogram_quantile(0.99, sum by (le, route) (rate(http_request_duration_seconds_bucket[1m])))', "p99 {{route}}"),
    ], 24),
    ("Reservations by result", "ops", [('sum by (result) (rate(reservation_total[1m]))', "{{result}}")], 12),
    ("Failed reservations by reason", "ops", [('sum by (reason) (rate(failed_reservation_total[1m]))', "{{reason}}")], 12),
    ("Confirmations by result", "ops", [('sum by (result) (rate(confirmation_total[1m]))', "{{result}}")], 12),
    ("Tickets available", "short", [('max by (event, category) (tickets_available)', "{{event}} {{category}}")], 12),
    ("Seats held and sold per section", "short", [('max by (event, category, section, state) (seats{state=~"held|sold"})', "{{category}} {{section}} {{state}}")], 12),
    ("Refunds and late payments", "ops", [
        ('sum by (by) (rate(refund_total[5m]))', "refunded by {{by}}"),
        ('sum by (result) (rate(late_confirmation_total[5m])) or vector(0)', "late payment {{result}}"),
    ], 12),
    ("Holds expired per second", "ops", [('sum(rate(holds_expired_total[1m]))', "expired")], 8),
    ("Holds overdue (should be 0)", "short", [('max(holds_overdue)', "overdue")], 8),
    ("Outbox pending", "short", [('max(outbox_pending)', "pending")], 8),
    ("Outbox publish rate", "ops", [('sum by (result) (rate(outbox_published_total[1m]))', "{{result}}")], 12),
    ("Oldest entry: undelivered / not yet in PostgreSQL", "s", [
        ('max(outbox_oldest_age_seconds)', "undelivered"),
        ('max(pipeline_unpersisted_oldest_age_seconds)', "not yet in PostgreSQL"),
    ], 12),
    ("Producer replacements and events published again", "ops", [
        ('sum(rate(outbox_producer_restarts_total[5m]))', "producer replaced"),
        ('sum by (type) (rate(pipeline_repaired_total[5m]))', "repaired {{type}}"),
    ], 12),
    ("Consumer lag by partition", "short", [('sum by (partition) (kafka_consumer_lag)', "partition {{partition}}")], 12),
    ("Worker events persisted per second", "ops", [('sum by (type, result) (rate(worker_events_total[1m]))', "{{type}} {{result}}")], 12),
    ("Worker batch time p50 / p99", "s", [
        ('histogram_quantile(0.50, sum by (le) (rate(worker_batch_duration_seconds_bucket[1m])))', "p50"),
        ('histogram_quantile(0.99, sum by (le) (rate(worker_batch_duration_seconds_bucket[1m])))', "p99"),
    ], 12),
    ("Database connections", "short", [('sum by (job) (db_open_connections)', "{{job}}")], 12),
    ("Redis memory", "bytes", [('sum(max by (node) (redis_memory_bytes))', "used")], 12),
    # The waiting room.
    ("Waiting room: buyers waiting", "short", [('max by (event) (queue_waiting)', "{{event}}")], 8),
    ("Waiting room: admitted per minute against the set rate", "short", [
        ('sum by (event) (rate(queue_admitted_total[1m])) * 60', "admitted {{event}}"),
        ('max by (event) (queue_admit_per_minute)', "set rate {{event}}"),
    ], 8),
    ("Waiting room: the last buyer's ETA", "s", [('max by (event) (queue_last_eta_seconds)', "{{event}}")], 8),
    ("Waiting room: refused", "ops", [('sum by (reason) (rate(queue_rejected_total[1m]))', "{{reason}}")], 12),
]


def panel(i, title, unit, targets, width, x, y):
    return {
        "id": i + 1,
        "type": "timeseries",
        "title": title,
        "datasource": DS,
        "gridPos": {"h": 8, "w": width, "x": x, "y": y},
        "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
        "options": {"legend": {"displayMode": "list", "placement": "bottom"}, "tooltip": {"mode": "multi"}},
        "targets": [
            {"refId": chr(ord("A") + j), "datasource": DS, "expr": expr, "legendFormat": legend}
            for j, (expr, legend) in enumerate(targets)
        ],
    }


def main():
    panels, x, y = [], 0, 0
    for i, (title, unit, targets, width) in enumerate(PANELS):
        if x + width > 24:
            x, y = 0, y + 8
        panels.append(panel(i, title, unit, targets, width, x, y))
        x += width
    dashboard = {
        "uid": "boxoffice-onsale",
        "title": "BoxOffice — on-sale",
        "tags": ["boxoffice"],
        "timezone": "utc",
        "schemaVersion": 39,
        "version": 1,
        "refresh": "5s",
        "time": {"from": "now-30m", "to": "now"},
        "panels": panels,
    }
    out = pathlib.Path(__file__).resolve().parents[2] / "grafana" / "dashboards" / "boxoffice.json"
    out.write_text(json.dumps(dashboard, indent=2) + "\n")
    print(f"wrote {out} ({len(panels)} panels)")


if __name__ == "__main__":
    main()
