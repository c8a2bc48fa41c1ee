"""Our exporter: built from exporter/ in this repository, serving /metrics, /healthz, /readyz."""

from __future__ import annotations

from components.model import Component, Port, Security
from monitoring import jobs

CONFIG_PATH = "/etc/exporter/config.yml"
# Build context and Dockerfile, relative to the project directory.
BUILD_CONTEXT = "."
DOCKERFILE = "exporter/Dockerfile"
PUSH_PLATFORM = "linux/amd64"  # images pushed to a cluster (dev builds the engine's own)
SECRETS_DIR = "/etc/exporter/secrets"
DATABASE_URL_PATH = f"{SECRETS_DIR}/database_url"  # the trading database URL (a secret file)
DEMO_DATABASE = "/demo/trading-demo.db"  # a volume the demo service writes to as well
DEMO_ROWS = 20000

COMPONENT = Component(
    name="exporter",
    app="exporter",
    image_key=None,
    ports=(Port(jobs.METRICS_PORT_NAME, 9188),),
    job=jobs.EXPORTER,
    security=Security(uid=65532),  # exporter/Dockerfile: USER 65532:65532
    # Readiness is /healthz, not /readyz: a database outage must show up as
    # `trading_exporter_database_up 0` on a scraped target, not as a vanished target.
    readiness_path="/healthz",
    liveness_path="/healthz",
    probe_tool="python",  # the image has python, neither wget nor curl
    config_files=(CONFIG_PATH,),
)

ENTRYPOINT = ["python", "-m", "exporter"]


def serve_args(database: list[str]) -> list[str]:
    """`python -m exporter` arguments; `database` is `--db-url-file=...` or `--db=...`."""
    return [
        "serve",
        f"--listen=0.0.0.0:{COMPONENT.port}",
        f"--config={CONFIG_PATH}",
        *database,
    ]


def database_url_args() -> list[str]:
    return [f"--db-url-file={DATABASE_URL_PATH}"]


def sqlite_args(path: str) -> list[str]:
    return [f"--db={path}"]


# Where dev mounts a host SQLite file (docker.exporterDatabasePath), read-only.
HOST_DATABASE_PATH = "/data/host/trading.db"


def demo_command(market_codes: list[str]) -> list[str]:
    """A shell command: create a demo database of the stack's markets, then serve it."""
    serve = " ".join([*ENTRYPOINT, *serve_args(sqlite_args(DEMO_DATABASE))])
    return [
        f"python -m exporter demo-db {DEMO_DATABASE} --rows {DEMO_ROWS} "
        f"--regions {','.join(market_codes)} && exec {serve}"
    ]
