"""The demo service's `services` entry: how dev declares it, and an example to copy."""

from __future__ import annotations

from typing import Any

NAME = "demo-api"


def service_entry(metrics_target: str, health_url: str, market: str = "kr") -> dict[str, Any]:
    """A `services` list item (stack config shape) for the demo service at these addresses."""
    return {
        "name": NAME,
        "market": market,
        "team": "platform",
        "metrics": {"targets": [metrics_target]},
        "probes": [
            {
                "name": "health",
                "url": health_url,
                "expectStatus": [200],
                "expectBody": '"status": *"healthy"',
            }
        ],
        "slo": {
            "requests": {"metric": "demo_requests_total"},
            "errors": {"metric": "demo_errors_total"},
            "latency": {
                "metric": "demo_request_duration_milliseconds",
                "unit": "milliseconds",
                "threshold": "250ms",
            },
            "objectives": {"availability": 99.5, "latency": 99},
            "window": "30d",
        },
        "panels": [
            {
                "title": "Quotes by instrument",
                # The service's own `market` label (a trading pair) is kept as exported_market.
                "expr": "sum by (exported_market) (rate(demo_quotes_total[5m]))",
                "unit": "reqps",
            }
        ],
    }
