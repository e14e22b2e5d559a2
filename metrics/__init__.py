"""Herald's Prometheus metrics, defined once for both edges (gql/ and jobs/) and exposed by the
composition root at /metrics (herald/app.py). Every metric and its labels is in the README
(Metrics); labels take values from small fixed sets (events, outcome classes, error codes,
schema field names), never ids, phone numbers or client-chosen strings.

Processes: each process counts in its own memory, unless PROMETHEUS_MULTIPROC_DIR names a
directory when the process starts (prometheus-client's multiprocess mode: every process of one
machine writes its values to files there, and /metrics merges them), which is how `herald
serve`'s /metrics covers the worker processes beside it."""

from __future__ import annotations

import os

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
# 1 ms to 10 s: a probe on the same host answers in ~1 ms, PROBE_TIMEOUT defaults to 10 s.
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)

MESSAGES = Counter(
    "herald_messages",
    "Messages the send loops decided on, by event (accept, retry, reject, release)",
    ["outcome"],
)
CLAIMED = Counter("herald_messages_claimed", "Messages claimed by the send loops")
IN_FLIGHT = Gauge(
    "herald_messages_in_flight",
    "Sends awaiting the probe's answer",
    multiprocess_mode="livesum",
)
RETRIES = Counter(
    "herald_retries",
    "Sends that will be retried, by the probe outcome class that caused it",
    ["cause"],
)
PROBE_LATENCY = Histogram(
    "herald_probe_request_duration_seconds",
    "Time from a send's start to the probe's answer (or the timeout)",
    buckets=LATENCY_BUCKETS,
)
PROBE_OUTCOMES = Counter(
    "herald_probe_outcomes",
    "Probe answers by class (accepted, rejected, transient, timeout, unauthorized, error)",
    ["outcome"],
)
CIRCUIT_OPEN = Gauge(
    "herald_circuit_open",
    "1 while the probe circuit is open (the probe refused our token) in any live process",
    multiprocess_mode="livemax",
)
MAILING_TRANSITIONS = Counter(
    "herald_mailing_transitions", "Mailing state changes, by event", ["event"]
)
DUE_BACKLOG = Gauge(
    "herald_due_backlog_messages",
    "Unsent messages (PENDING and RETRYING) of RUNNING mailings, read by the last sweep",
    multiprocess_mode="livemostrecent",
)
SWEEP_DURATION = Histogram(
    "herald_sweep_duration_seconds",
    "Duration of one sweep",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
)
GRAPHQL_OPERATIONS = Counter(
    "herald_graphql_operations",
    "GraphQL operations by type, root field and outcome (ok or the error code)",
    ["type", "field", "outcome"],
)
GRAPHQL_DURATION = Histogram(
    "herald_graphql_operation_duration_seconds",
    "GraphQL operation latency, by type and root field",
    ["type", "field"],
    buckets=LATENCY_BUCKETS,
)
SUBSCRIPTIONS = Gauge(
    "herald_websocket_subscriptions",
    "Active GraphQL subscriptions over websockets",
    multiprocess_mode="livesum",
)
PROCESS_RESTARTS = Counter(
    "herald_process_restarts",
    "Child processes of `herald serve` restarted after they died, by kind (worker, probe-sim)",
    ["process"],
)
HEARTBEAT = Gauge(
    "herald_worker_heartbeat_timestamp_seconds",
    "Unix time of each live worker's last send-loop step (one series per process: pid label"
    " in multiprocess mode; labelled so that processes without a send loop show none)",
    ["kind"],
    multiprocess_mode="liveall",
)


def multiprocess() -> bool:
    return bool(os.environ.get(MULTIPROC_ENV))


def exposition() -> tuple[bytes, str]:
    """The text exposition: this process's registry, or every process's files merged."""
    if multiprocess():
        registry = CollectorRegistry()
        MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST


def process_exited(pid: int) -> None:
    """For a supervisor: drop a dead process's live gauges (its counters stay summed)."""
    if multiprocess():
        mark_process_dead(pid)  # type: ignore[no-untyped-call]
