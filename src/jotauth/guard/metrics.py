"""Prometheus export of a guard's counters (needs ``prometheus-client``; imported only here).

    from prometheus_client import REGISTRY
    from jotauth.guard.metrics import GuardCollector

    REGISTRY.register(GuardCollector(guard, service="articles"))

The guard itself only keeps plain integers (``guard.stats()``), so a service without
Prometheus pays nothing; the collector reads them when Prometheus scrapes.
"""

from collections.abc import Iterator

from jotauth.errors import MissingDependencyError
from jotauth.guard.guard import Guard

try:
    from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
    from prometheus_client.registry import Collector
except ModuleNotFoundError as exc:
    raise MissingDependencyError(
        "jotauth.guard.metrics needs prometheus-client", "metrics", exc
    ) from None

__all__ = ["GuardCollector"]


class GuardCollector(Collector):
    """Exposes ``jotauth_guard_*`` metrics for one guard, labelled by ``service``."""

    def __init__(self, guard: Guard, *, service: str = "default") -> None:
        self._guard = guard
        self._service = service

    def collect(self) -> Iterator[CounterMetricFamily | GaugeMetricFamily]:
        stats = self._guard.stats()
        labels = ["service"]
        values = [self._service]
        simple = (
            ("verified", "tokens whose signature and claims were verified"),
            ("cache_hits", "requests answered from the verified-token cache"),
            ("cache_misses", "requests that had to verify a signature"),
            ("jwks_fetches", "JWK Set downloads from the issuer"),
        )
        for name, documentation in simple:
            family = CounterMetricFamily(f"jotauth_guard_{name}", documentation, labels=labels)
            family.add_metric(values, stats[name])
            yield family
        rejected = CounterMetricFamily(
            "jotauth_guard_rejected",
            "requests refused, by error code (expired_token, bad_signature, ...)",
            labels=[*labels, "reason"],
        )
        for reason, count in sorted(stats["rejected"].items()):
            rejected.add_metric([*values, reason], count)
        yield rejected
        size = GaugeMetricFamily(
            "jotauth_guard_cache_entries", "entries in the verified-token cache", labels=labels
        )
        size.add_metric(values, stats["cache_entries"])
        yield size
