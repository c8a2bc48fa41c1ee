"""The public shapes of this package: folders and built dashboards."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Folder:
    uid: str
    title: str


@dataclass(frozen=True)
class Dashboard:
    uid: str
    title: str
    folder_uid: str
    model: dict[str, Any]  # the dashboard JSON, as Grafana's API takes it


TRADING = Folder("tm-folder-trading", "Trading")
MARKETS = Folder("tm-folder-markets", "Markets")
PLATFORM = Folder("tm-folder-platform", "Platform")
MONITORING = Folder("tm-folder-monitoring", "Monitoring")

FOLDERS: list[Folder] = [TRADING, MARKETS, PLATFORM, MONITORING]
