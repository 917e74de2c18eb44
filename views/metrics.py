"""Prometheus metrics at /metrics: request latency, ILS latency and errors per operation, cache
hits, notices sent.

Under gunicorn with several workers, set PROMETHEUS_MULTIPROC_DIR to an empty directory (the
gunicorn config in deploy/ does) so that every worker's figures are added up.
"""

from __future__ import annotations

import os
import time

from flask import Blueprint, Flask, Response, current_app, g, request
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest

bp = Blueprint("metrics", __name__)

REQUEST_SECONDS = Histogram(
    "shiori_request_seconds", "Time to answer a request", ["endpoint", "method", "status"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
ILS_SECONDS = Histogram(
    "shiori_ils_call_seconds", "Time of one call to the ILS adapter", ["operation"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
ILS_ERRORS = Counter("shiori_ils_errors_total", "ILS calls that failed or were refused", ["operation", "outcome"])
CACHE_LOOKUPS = Counter("shiori_cache_lookups_total", "Adapter cache lookups", ["cache", "result"])
NOTICES_SENT = Counter("shiori_notices_sent_total", "Notices emailed to patrons", ["kind"])


def observe_ils_call(operation: str, seconds: float, outcome: str) -> None:
    """The GuardedAdapter's observer."""
    ILS_SECONDS.labels(operation).observe(seconds)
    if outcome != "ok":
        ILS_ERRORS.labels(operation, outcome).inc()


def count_cache_lookup(cache: str, hit: bool) -> None:
    CACHE_LOOKUPS.labels(cache, "hit" if hit else "miss").inc()


def _start_timer() -> None:
    g.request_started = time.perf_counter()


def _observe_request(response):
    started = g.pop("request_started", None)
    if started is not None and request.endpoint != "metrics.metrics":
        REQUEST_SECONDS.labels(request.endpoint or "unknown", request.method, str(response.status_code)).observe(
            time.perf_counter() - started
        )
    return response


@bp.get("/metrics")
def metrics():
    if not current_app.config["METRICS_ENABLED"]:
        return Response("metrics are off\n", status=404, mimetype="text/plain")
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return Response(generate_latest(registry), mimetype=CONTENT_TYPE_LATEST)
    return Response(generate_latest(), mimetype=CONTENT_TYPE_LATEST)


def init_app(app: Flask) -> None:
    app.before_request(_start_timer)
    app.after_request(_observe_request)
