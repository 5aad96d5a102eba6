"""Prometheus metrics of the service, the same names on the worker and the bot.

The collectors live in prometheus-client's default registry; a process serves them over HTTP
only when `settings.metrics_port` > 0 (`serve`), so the console and the tests open no port.
"""

from __future__ import annotations

import logging

from prometheus_client import Counter, Gauge, Histogram, start_http_server

from .settings import Settings

log = logging.getLogger(__name__)

QUEUE_DEPTH = Gauge("babel_queue_depth", "Jobs not yet answered (waiting or being read)")
WORKERS_ALIVE = Gauge("babel_workers_alive", "Workers that sent a heartbeat recently")
JOB_SECONDS = Histogram(
    "babel_job_seconds",
    "Seconds from a job's submission to its answer",
    ["kind", "cache"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300),
)
CACHE = Counter("babel_cache_total", "Cache lookups by tier and outcome", ["tier", "outcome"])
VOLUMES_BUILT = Counter(
    "babel_volumes_built_total", "Volumes built from their address", ["edition"]
)
ERRORS = Counter("babel_errors_total", "Jobs answered with an error, by kind", ["kind"])
DEAD_LETTERS = Counter(
    "babel_dead_letters_total",
    "Jobs set aside after max deliveries: unreadable entries, failed or stopped workers",
    ["why"],
)
REDIS_WEIGHTS = Gauge(
    "babel_weights_tier_seconds",
    "The worker's start-up measurement: seconds to rebuild a volume vs fetch it from Redis",
    ["edition", "path"],
)

_served: set[int] = set()


def serve(settings: Settings) -> bool:
    """Start the HTTP endpoint on settings.metrics_port (once per process); False when off."""
    port = settings.metrics_port
    if port <= 0:
        return False
    if port not in _served:
        start_http_server(port)
        _served.add(port)
        log.info("metrics on http://0.0.0.0:%d/metrics", port)
    return True
