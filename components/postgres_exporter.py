"""postgres_exporter (prometheus-community): one container per declared PostgreSQL instance.

Its flags, environment and secret files come from `monitoring/thirdparty/exporters.py`; the
password is a secret file (`DATA_SOURCE_PASS_FILE`), never env or config text.
"""

from __future__ import annotations

from components.model import Component, Port, Security
from monitoring import jobs

COMPONENT = Component(
    name="postgres_exporter",
    app="postgres-exporter",
    image_key="postgres_exporter",
    ports=(Port(jobs.METRICS_PORT_NAME, 9187),),
    job=jobs.POSTGRES,
    security=Security(uid=65534),  # the image's `nobody` (busybox base: wget for the probe)
    # The landing page: a database outage is `pg_up 0` on a live target, not a restart.
    readiness_path="/",
    liveness_path="/",
)
