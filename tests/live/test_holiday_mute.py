"""A real Alertmanager 0.25 evaluates the rendered holiday mute times (routing tests cannot).

Two markets open around the clock, every day: `holiday` lists today (and its neighbours, so a
run across midnight UTC holds) as holidays, `crypto` follows the `24/7` calendar. The same
warning is posted for both; the team's Slack receiver (a local recorder) gets the crypto one
only.
"""

from __future__ import annotations

import json
import shutil
import time
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml

from monitoring import notifications
from monitoring.render import render_alertmanager_config
from monitoring.settings import ContentSettings, Market, Receivers, Targets
from tests.live.harness import SLACK_PATH, TEAM_CHANNEL, slack_messages, wait_for_slack
from tests.live.processes import (
    WebhookRecorder,
    post_json,
    running_alertmanager,
    sigterm_unwinds,
)
from validation import WEEKDAYS

pytestmark = pytest.mark.live

ALERTMANAGER = "prometheus-alertmanager"


def _settings(secrets_dir: Path) -> ContentSettings:
    today = datetime.now(UTC).date()
    around = tuple((today + timedelta(days=d)).isoformat() for d in (-1, 0, 1))
    one = ("127.0.0.1:9",)
    return ContentSettings(
        markets=(
            Market(
                "holiday",
                "On holiday today",
                None,
                "UTC",
                ("00:00-24:00",),
                weekdays=WEEKDAYS,
                holidays=around,
            ),
            Market("crypto", "Crypto (24/7)", "24/7", "UTC"),
        ),
        targets=Targets(one, one, one, one, one, one, one, one),
        receivers=Receivers(slack_channel=TEAM_CHANNEL, secrets_dir=str(secrets_dir)),
        group_wait="1s",
        group_interval="1s",
        repeat_interval="1h",
    )


@pytest.fixture()
def alertmanager(tmp_path: Path) -> Iterator[tuple[str, WebhookRecorder, ContentSettings]]:
    if shutil.which(ALERTMANAGER) is None:
        pytest.fail(f"the live test needs {ALERTMANAGER} on PATH: run `make tools`")
    recorder = WebhookRecorder()
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    (secrets / notifications.SLACK_API_URL).write_text(recorder.url(SLACK_PATH))
    settings = _settings(secrets)
    config = tmp_path / "alertmanager.yml"
    config.write_text(render_alertmanager_config(settings, None, None))
    with (
        sigterm_unwinds(),
        running_alertmanager(ALERTMANAGER, config, tmp_path, recorder) as url,
    ):
        yield url, recorder, settings


def _post(url: str, market: str) -> None:
    now = datetime.now(UTC)
    alert = {
        "labels": {
            "alertname": "StaleMarketData",
            "severity": "warning",
            "category": "data_quality",
            "market": market,
        },
        "annotations": {"summary": f"Market data of {market} is stale"},
        "startsAt": now.isoformat(),
        "endsAt": (now + timedelta(minutes=10)).isoformat(),
    }
    post_json(f"{url}/api/v2/alerts", [alert])


def test_a_warning_of_a_market_on_holiday_is_muted(
    alertmanager: tuple[str, WebhookRecorder, ContentSettings],
) -> None:
    url, recorder, settings = alertmanager
    rendered = yaml.safe_load(render_alertmanager_config(settings, None, None))
    (holiday,) = rendered["time_intervals"]  # crypto (24/7) has no closed interval
    assert holiday["name"] == "market-closed-holiday"
    started = time.monotonic()
    _post(url, "holiday")
    _post(url, "crypto")
    wait_for_slack(recorder, TEAM_CHANNEL, "[FIRING:1] StaleMarketData (crypto)", 30, started)
    # Both alerts arrived together; give the muted one a few more group intervals anyway.
    time.sleep(3)
    titles = [m.title for m in slack_messages(recorder)]
    assert not any("(holiday)" in t for t in titles), titles
    # It reached Alertmanager (which holds it: 0.25 lists time-muted alerts as active).
    with urllib.request.urlopen(f"{url}/api/v2/alerts?filter=market%3D%22holiday%22") as r:
        (held,) = json.loads(r.read())
    assert held["labels"]["alertname"] == "StaleMarketData"
