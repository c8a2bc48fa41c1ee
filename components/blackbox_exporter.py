"""The Prometheus blackbox exporter: HTTP and TCP probes of the services (`services[].probes`).

Deployed only when a service has probes. Its module file is rendered by
`monitoring.render.render_blackbox_config`; Prometheus' job `probe` sends `/probe?target=&module=`.
"""

from __future__ import annotations

from components.model import Component, Port, Security

CONFIG_PATH = "/etc/blackbox_exporter/config.yml"

COMPONENT = Component(
    name="blackbox_exporter",
    app="blackbox-exporter",
    image_key="blackbox_exporter",
    ports=(Port("http", 9115),),
    job=None,  # its probes are the `probe` job; a down exporter shows there (TargetDown)
    security=Security(uid=65534),  # nobody, as in the prom/blackbox-exporter image
    readiness_path="/metrics",
    liveness_path="/metrics",
    config_files=(CONFIG_PATH,),
    start_period="10s",
)


def args() -> list[str]:
    return [f"--config.file={CONFIG_PATH}", f"--web.listen-address=:{COMPONENT.port}"]
