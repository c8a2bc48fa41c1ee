"""Pulumi entry point: `pulumi up -s dev` (Docker) or `pulumi up -s prod` (Kubernetes)."""

from infra.stack import run

run()
