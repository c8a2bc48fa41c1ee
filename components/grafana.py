"""Grafana: the server's port, data and the directory of its secret files."""

from __future__ import annotations

from components.model import Component, Port, Security
from monitoring import jobs

DATA_DIR = "/var/lib/grafana"
SECRETS_DIR = "/etc/grafana/secrets"  # admin_password, secret_key (and smtp_password)
ADMIN_PASSWORD_FILE = "admin_password"
SECRET_KEY_FILE = "secret_key"
SMTP_PASSWORD_FILE = "smtp_password"

COMPONENT = Component(
    name="grafana",
    app="grafana",
    image_key="grafana",
    ports=(Port("http", 3000),),
    job=jobs.GRAFANA,
    security=Security(uid=472),
    readiness_path="/api/health",
    liveness_path="/api/health",
    data_dir=DATA_DIR,
    start_period="60s",
)


def secret_path(file_name: str) -> str:
    return f"{SECRETS_DIR}/{file_name}"
