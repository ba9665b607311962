"""Prometheus metrics: request latency, events appended, projection lag, Redis availability."""
from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

if TYPE_CHECKING:
    from interfaces.bootstrap import Container


class _LiveCollector(Collector):
    """Reads lag and Redis state at scrape time, so the figures are never stale."""

    def __init__(self, container: Container):
        self.container = container

    def collect(self) -> Iterator[GaugeMetricFamily | CounterMetricFamily]:
        lag = GaugeMetricFamily("ledgerflow_projection_lag_events", "Events not yet applied, per projection",
                                labels=["projection"])
        position = GaugeMetricFamily("ledgerflow_projection_position", "Last applied event position",
                                     labels=["projection"])
        parked = GaugeMetricFamily("ledgerflow_projection_parked_events",
                                   "Events a projection parked because their data could not be applied",
                                   labels=["projection"])
        for name, runner in self.container.runners.items():
            status = runner.status()
            lag.add_metric([name], status.lag)
            position.add_metric([name], status.position)
            parked.add_metric([name], status.parked)
        yield lag
        yield position
        yield parked
        yield GaugeMetricFamily("ledgerflow_event_store_head", "Highest event position",
                                value=self.container.store.head())
        yield GaugeMetricFamily("ledgerflow_redis_up", "1 when Redis answers",
                                value=1 if self.container.redis.available else 0)
        refused = CounterMetricFamily(
            "ledgerflow_auth_stale_principal_refusals",
            "Requests refused because the access read models were behind (lagging) or parked for their subject",
            labels=["reason"])
        for reason in ("lagging", "parked"):
            refused.add_metric([reason], self.container.principals.refusals[reason])
        yield refused


class Metrics:
    def __init__(self, container: Container):
        self.registry = CollectorRegistry()
        self.latency = Histogram("ledgerflow_http_request_duration_seconds", "HTTP request latency",
                                 ["method", "route", "status"], registry=self.registry)
        self.appended = Counter("ledgerflow_events_appended", "Events appended by this process",
                                registry=self.registry)
        self.commits = Counter("ledgerflow_event_commits", "Event store transactions by this process",
                               registry=self.registry)
        self.registry.register(_LiveCollector(container))
        container.store.recorder.stats.listeners.append(self._on_commit)

    def _on_commit(self, events: int, _head: int) -> None:
        self.appended.inc(events)
        self.commits.inc()

    def observe_request(self, method: str, route: str, status: int, seconds: float) -> None:
        self.latency.labels(method, route, str(status)).observe(seconds)

    def render(self) -> bytes:
        return generate_latest(self.registry)
