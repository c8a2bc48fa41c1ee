"""redis_exporter (oliver006): one container per declared Redis instance.

The `-alpine` image (busybox wget for the Docker healthcheck); the password is the JSON
`--redis.password-file` (monitoring/thirdparty/exporters.py), a secret file.
"""

from __future__ import annotations

from components.model import Component, Port, Security
from monitoring import jobs

COMPONENT = Component(
    name="redis_exporter",
    app="redis-exporter",
    image_key="redis_exporter",
    ports=(Port(jobs.METRICS_PORT_NAME, 9121),),
    job=jobs.REDIS,
    security=Security(uid=59000),  # the image's USER
    readiness_path="/",
    liveness_path="/",
)
