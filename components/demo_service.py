"""The demo service (demo_service/): a small instrumented trading API that dev runs next to the
demo database, declared through a normal `services` entry (demo_service/config.py). It ships in
the exporter image and writes fresh rows into the exporter's demo database (a shared volume)."""

from __future__ import annotations

from components.model import Component, Port, Security

DEMO_DIR = "/demo"  # the volume shared with the exporter (exporter.DEMO_DATABASE lives here)
ENTRYPOINT = ["python", "-m", "demo_service"]

COMPONENT = Component(
    name="demo_service",
    app="demo-service",
    image_key=None,  # the exporter image
    ports=(Port("http", 8010),),
    job=None,  # scraped as the service `demo-api` (job service-demo-api)
    security=Security(uid=65532),  # exporter/Dockerfile: USER 65532:65532
    readiness_path="/health",
    liveness_path="/health",
    probe_tool="python",
    start_period="20s",
    on_kubernetes=False,
)


def args(database: str, market_codes: list[str]) -> list[str]:
    return [
        "--host=0.0.0.0",
        f"--port={COMPONENT.port}",
        f"--db={database}",
        f"--markets={','.join(market_codes)}",
    ]
