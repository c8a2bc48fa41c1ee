"""Warning/critical levels drawn on panels: the same numbers the alert rules fire on."""

from __future__ import annotations

from dashboards.panels import Levels

HOUR = 3600.0

API_FAILURE_RATIO = Levels(warning=0.05, critical=0.20)
API_LATENCY_P95_SECONDS = Levels(warning=1.0, critical=3.0)
API_RATE_LIMIT_USAGE = Levels(warning=0.80, critical=0.95)
COLLECTION_FAILURE_RATIO = Levels(warning=0.10, critical=0.50)
ORDER_FAILURE_RATIO = Levels(warning=0.05, critical=0.20)
POSITION_LIMIT_USAGE = Levels(warning=0.80, critical=0.95)
DATA_AGE_SECONDS = Levels(warning=15 * 60.0, critical=HOUR)
BACKUP_AGE_SECONDS = Levels(warning=26 * HOUR, critical=48 * HOUR)
COLLECTOR_AGE_SECONDS = Levels(warning=5 * 60.0, critical=15 * 60.0)
HOST_CPU_USAGE = Levels(warning=0.80, critical=0.95)
HOST_MEMORY_USAGE = Levels(warning=0.85, critical=0.95)
HOST_DISK_USAGE = Levels(warning=0.80, critical=0.90)
