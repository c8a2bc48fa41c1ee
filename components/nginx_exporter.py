"""nginx-prometheus-exporter: one container per declared NGINX (its stub_status page).

The image is `FROM scratch` (no shell, no HTTP client): no Docker healthcheck can run in it
(`probe_tool="none"`); Kubernetes probes it over HTTP, and TargetDown watches it on both.
"""

from __future__ import annotations

from components.model import Component, Port, Security
from monitoring import jobs

COMPONENT = Component(
    name="nginx_exporter",
    app="nginx-exporter",
    image_key="nginx_exporter",
    ports=(Port(jobs.METRICS_PORT_NAME, 9113),),
    job=jobs.NGINX,
    security=Security(uid=1001),  # the image's USER
    readiness_path="/",
    liveness_path="/",
    probe_tool="none",
)
