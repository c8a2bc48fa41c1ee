"""The `services` the monitoring tests render: the seed-004 example and one of each other kind.

investiq-api: static targets, errors counter, milliseconds histogram, team and market.
screener: errors as a selector on the requests counter, seconds histogram, market hours only.
ml: probe-only (HTTPS with a body check, and TCP).
gateway: Kubernetes discovery and its own alert.
"""

from __future__ import annotations

from typing import Any

from monitoring.services import Service, parse_services
from monitoring.thresholds import ServiceThresholds

RAW_SERVICES: list[dict[str, Any]] = [
    {
        "name": "investiq-api",
        "market": "kr",
        "team": "platform",
        "metrics": {"interval": "10s", "targets": ["host.docker.internal:3000"]},
        "probes": [
            {
                "name": "health",
                "url": "http://host.docker.internal:8004/health",
                "expectStatus": [200],
                "expectBody": '"status": *"healthy"',
            },
            {"name": "db", "tcp": "db.internal:5432"},
        ],
        "slo": {
            "requests": {"metric": "investiq_requests_total"},
            "errors": {"metric": "investiq_errors_total"},
            "latency": {
                "metric": "investiq_request_duration_milliseconds",
                "unit": "milliseconds",
                "threshold": "500ms",
            },
            "objectives": {"availability": 99.9, "latency": 99},
            "window": "30d",
            "marketHoursOnly": False,
        },
        "panels": [
            {"title": "Trades / min", "expr": "sum(rate(investiq_trades_total[5m])) * 60"},
        ],
        "alerts": [
            {
                "name": "CircuitBreakerTripped",
                "expr": "max(investiq_trading_halted) == 1",
                "for": "0s",
                "severity": "critical",
                "summary": "Trading halted by the circuit breaker",
            }
        ],
    },
    {
        "name": "screener",
        "market": "us",
        "metrics": {"targets": ["screener:8000"]},
        "slo": {
            "requests": {"metric": "screener_http_requests_total"},
            "errors": {"selector": 'status=~"5.."'},
            "latency": {
                "metric": "screener_http_request_duration_seconds",
                "unit": "seconds",
                "threshold": "250ms",
            },
            "objectives": {"availability": 99.5, "latency": 95},
            "window": "7d",
            "marketHoursOnly": True,
        },
    },
    {
        "name": "ml",
        "team": "research",
        "probes": [
            {"name": "health", "url": "https://ml.example.test/health", "expectStatus": [200, 204]},
            {"name": "redis", "tcp": "redis.internal:6379"},
        ],
    },
    {
        "name": "gateway",
        "market": "kr",
        "metrics": {
            "scheme": "https",
            "kubernetes": {"namespace": "trading", "service": "ws-gateway", "port": "metrics"},
        },
        "alerts": [
            {
                "name": "GatewayConnectionsHigh",
                "expr": "sum(gateway_connections) > 1000",
                "for": "5m",
                "severity": "warning",
                "summary": "Many WebSocket connections",
                "description": "{{ $value }} open WebSocket connections.",
                "category": "performance",
                "runbook": "https://wiki.example.test/runbooks/gateway",
            }
        ],
    },
]
MARKET_CODES = ("kr", "us", "cn", "hk", "jp", "vn")
SERVICES: tuple[Service, ...] = parse_services(RAW_SERVICES, MARKET_CODES)
THRESHOLDS = ServiceThresholds()
BLACKBOX_ADDRESS = "blackbox-exporter:9115"
