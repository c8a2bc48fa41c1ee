"""The fire drill against a real Alertmanager 0.25 (live): two webhook receivers that answer
and one whose endpoint refuses connections."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from monitoring.drill import DRILL_ALERTNAME, FAILED, SENT, drill_plan, plan_to_json
from monitoring.notifications import (
    Notifications,
    Receiver,
    Timings,
    UserRoute,
    Webhook,
)
from monitoring.render import render_alertmanager
from tests.live.processes import (
    HOST,
    WebhookRecorder,
    free_port,
    running_alertmanager,
)
from tests.monitoring.conftest import make_settings, tool

pytestmark = pytest.mark.live
DRILL = (sys.executable, "-m", "infra", "drill", "--stack", "live")

NOTIFICATIONS = Notifications(
    receivers=(
        Receiver("hook-a", (Webhook("hookA"),)),
        Receiver("hook-b", (Webhook("hookB"),)),
        Receiver("refused", (Webhook("hookRefused"),)),
    ),
    routes=(
        UserRoute((("team", ("a",)),), "hook-a"),
        UserRoute((("team", ("b",)),), "hook-b"),
        UserRoute((("team", ("c",)),), "refused"),
    ),
    default_receiver="hook-b",
    default_timings=Timings(group_wait="1s", group_interval="1s", repeat_interval="1h"),
)


@pytest.fixture()
def alertmanager(tmp_path: Path) -> Iterator[tuple[str, WebhookRecorder]]:
    recorder = WebhookRecorder()
    closed_port = free_port()  # nothing listens there: connections are refused
    secrets = {
        "hookA": recorder.url("/a"),
        "hookB": recorder.url("/b"),
        "hookRefused": f"http://{HOST}:{closed_port}/refused",
    }
    config = tmp_path / "alertmanager.yml"
    config.write_text(render_alertmanager(make_settings(), NOTIFICATIONS, secrets))
    with running_alertmanager(tool("prometheus-alertmanager"), config, tmp_path, recorder) as url:
        yield url, recorder


def test_drill_reports_delivered_and_failed(
    alertmanager: tuple[str, WebhookRecorder], tmp_path: Path
) -> None:
    base_url, recorder = alertmanager
    # What `pulumi stack output --json` prints for a deployed stack.
    outputs = tmp_path / "outputs.json"
    plan = plan_to_json(drill_plan(make_settings(notifications=NOTIFICATIONS)))
    outputs.write_text(json.dumps({"alertmanagerUrl": base_url, "drillPlan": plan}))
    result = subprocess.run(
        [*DRILL, "--outputs", str(outputs), "--timeout", "60"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    print(result.stdout)  # the README shows this table
    assert result.returncode == 1, result.stdout + result.stderr
    rows = {
        (line.split()[1], line.split()[3].rstrip(":")) for line in result.stdout.splitlines()[2:]
    }
    assert ("hook-a", SENT) in rows
    assert ("hook-b", SENT) in rows
    assert ("refused", FAILED) in rows
    assert len(result.stdout.splitlines()) == 2 + 4, result.stdout  # 3 routes and the default
    assert "notification(s) failed after retries" in result.stdout
    # The receivers saw the drill alert firing, then resolved.
    for path, team in (("/a", "a"), ("/b", "b")):
        firing = recorder.wait_for_alert(path, DRILL_ALERTNAME, "firing", 5, labels={"team": team})
        resolved = recorder.wait_for_alert(
            path, DRILL_ALERTNAME, "resolved", 30, labels={"team": team}
        )
        assert firing.received_at < resolved.received_at
