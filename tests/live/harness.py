"""The whole alerting pipeline on 127.0.0.1: exporter -> Prometheus -> Alertmanager -> receivers.

Used by `tests/live` and `benchmarks/alert_latency.py`. Everything is rendered by the real
renderers from one `ContentSettings` whose intervals and `for` durations come from
`LiveTimings`; nothing rendered is edited afterwards.

Markets: `OPEN_MARKET` follows the `24/7` calendar (open around the clock, no mute time);
`CLOSED_MARKET` trades every day but is on holiday today (fixed calendar data: yesterday, today
and tomorrow are its holidays), so its (deliberately stale) data must never alert.
"""

from __future__ import annotations

import json
import math
import sqlite3
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import Any

import yaml

from components import prometheus
from exporter import demo_db
from infra.content import render_exporter_config
from monitoring import notifications
from monitoring.render import (
    render_alertmanager_config,
    render_prometheus_config,
    render_rule_files,
)
from monitoring.settings import ContentSettings, Market, Receivers, Targets
from monitoring.thresholds import AlertThresholds
from tests.live.processes import (
    HOST,
    AlertEvent,
    LiveError,
    ManagedProcess,
    WebhookRecorder,
    free_port,
    get_json,
    wait_until,
)
from validation import WEEKDAYS

OPEN_MARKET = "kr"
CLOSED_MARKET = "us"
WEBHOOK_PATH = "/webhook"
HEARTBEAT_PATH = "/heartbeat"
SLACK_PATH = "/slack"
TEAM_CHANNEL = "#live-team"
ONCALL_CHANNEL = "#live-oncall"
DEMO_ROWS = 5_000
# The closed market's newest bar is older than both stale-data limits: if the
# market-open guard failed, both severities would fire.
CLOSED_MARKET_DATA_AGE = 3 * 3600


@dataclass(frozen=True)
class LiveTimings:
    """Every interval of the pipeline, in seconds unless a Prometheus duration string."""

    scrape_interval: int = 1
    evaluation_interval: int = 1
    group_wait: int = 1
    group_interval: int = 1
    repeat_interval: str = "1h"
    exporter_refresh: float = 1.0  # the exporter's cached-collector refresh interval
    alert_for: int = 2  # `for` of the alerts the faults trigger (ExporterDown, stale, orders)
    # Prometheus resends a still-firing alert after this delay (flag default 1m). Alerts that
    # fire before Prometheus has (re)discovered Alertmanager, up to ~5 s after a start or a
    # reload, are dropped and only sent again after it: the always-firing Watchdog is one.
    resend_delay: str = "1m"


def seconds(value: float) -> str:
    """A Prometheus duration: 2 -> "2s"."""
    return f"{value:g}s"


def content_settings(
    timings: LiveTimings,
    *,
    exporter: str,
    prometheus: str,
    alertmanager: str,
    rules_dir: Path,
    secrets_dir: Path,
) -> ContentSettings:
    """The settings every renderer gets: our ports, short intervals, short `for`s."""
    alert_for = seconds(timings.alert_for)
    thresholds = replace(
        AlertThresholds(),
        target_down_for=alert_for,
        exporter_down_for=alert_for,
        exporter_database_down_for=alert_for,
        exporter_collector_failing_for=alert_for,
        stale_data_for=alert_for,
        order_failure_for=alert_for,
        # increase() over the period interval needs at least two scrapes in it.
        slo_period_interval=seconds(4 * timings.scrape_interval),
    )
    return ContentSettings(
        markets=(
            # Always open (the 24/7 calendar): no mute time at all.
            Market(OPEN_MARKET, "Always open (live test)", "24/7", "UTC"),
            # Open every day but on holiday today: muted all day, and never "open".
            Market(
                CLOSED_MARKET,
                "On holiday today (live test)",
                None,
                "UTC",
                ("00:00-24:00",),
                weekdays=WEEKDAYS,
                holidays=holidays_around_today(),
            ),
        ),
        targets=Targets(
            prometheus=(prometheus,),
            alertmanagers=(alertmanager,),
            exporter=(exporter,),
            # Not running in the live test: no node-exporter, cAdvisor, Grafana, Loki, Alloy.
            node_exporter=(),
            cadvisor=(),
            grafana=(),
            loki=(),
            alloy=(),
        ),
        receivers=Receivers(
            slack_channel=TEAM_CHANNEL,
            slack_critical_channel=ONCALL_CHANNEL,
            webhook=True,
            heartbeat=True,
            secrets_dir=str(secrets_dir),
            # PagerDuty and email stay off: the renderer has no PagerDuty URL and Alertmanager
            # requires STARTTLS for email, so neither can be pointed at a local receiver.
        ),
        scrape_interval=seconds(timings.scrape_interval),
        scrape_timeout=seconds(timings.scrape_interval),
        evaluation_interval=seconds(timings.evaluation_interval),
        group_wait=seconds(timings.group_wait),
        group_interval=seconds(timings.group_interval),
        repeat_interval=timings.repeat_interval,
        environment="live-test",
        rule_files_dir=str(rules_dir),
        thresholds=thresholds,
    )


def holidays_around_today() -> tuple[str, ...]:
    """Yesterday, today and tomorrow (UTC): a run across midnight stays on holiday."""
    today = datetime.now(UTC).date()
    return tuple((today + timedelta(days=d)).isoformat() for d in (-1, 0, 1))


def exporter_config(settings: ContentSettings) -> dict[str, Any]:
    """Exporter YAML from the same markets: the 24/7 calendar (exchange_calendars in the
    exporter's child process) and the custom schedule on holiday today."""
    config: dict[str, Any] = yaml.safe_load(render_exporter_config(settings))
    # The stale-data fault rewrites bar times (an update of rows already counted): the
    # exporter sees such changes at its next full recount, here every second.
    config["reconcile"] = {"interval": 1}
    return config


class TradingDatabase:
    """Writes to the demo SQLite database, as the trading system would."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def _execute(self, sql: str, rows: list[tuple[Any, ...]] | tuple[Any, ...]) -> None:
        with sqlite3.connect(self.path, timeout=10) as conn:
            if isinstance(rows, list):
                conn.executemany(sql, rows)
            else:
                conn.execute(sql, rows)

    def newest_bar(self, market: str) -> int:
        with sqlite3.connect(self.path, timeout=10) as conn:
            (value,) = conn.execute(
                "SELECT MAX(ts) FROM ohlcv WHERE market = ?", (market,)
            ).fetchone()
        return int(value)

    def age_bars(self, market: str, age_seconds: int) -> None:
        """Shift the market's bars back so that its newest bar is `age_seconds` old."""
        shift = self.newest_bar(market) - (int(time.time()) - age_seconds)
        self._execute("UPDATE ohlcv SET ts = ts - ? WHERE market = ?", (shift, market))

    def add_fresh_bar(self, market: str) -> None:
        self._execute(
            "INSERT INTO ohlcv (ticker, market, ts, open, high, low, close, volume)"
            " SELECT ticker, market, ?, 100, 101, 99, 100, 1000 FROM tickers"
            " WHERE market = ? LIMIT 1",
            (int(time.time()), market),
        )

    def add_orders(self, market: str, count: int, status: str) -> None:
        now = int(time.time())
        rows = [
            (market, "LIVE", "buy" if i % 2 else "sell", 1.0, 100.0, status, "momentum", now)
            for i in range(count)
        ]
        self._execute(
            "INSERT INTO orders (market, ticker, side, quantity, price, status, strategy,"
            " created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            rows,
        )


class ActivityFeeder:
    """Background trading activity, so that rate() panels and ratios have something to show.

    Every `period` seconds: one successful API call per endpoint and one successful collection
    run per market, and one filled order in the open market. Nothing fails on its own: the
    only alerts are the injected ones (a steady error rate would burn the API SLO).
    """

    ENDPOINTS = ("quotes", "ohlcv", "orders", "account", "auth")

    def __init__(self, db: TradingDatabase, period: float = 1.0) -> None:
        self.db = db
        self.period = period
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="activity-feeder", daemon=True)
        self._calls = 0
        self.error: BaseException | None = None

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=10)

    def _run(self) -> None:
        try:
            while not self._stop.wait(self.period):
                self.tick()
        except BaseException as error:  # reported by the test, never swallowed
            self.error = error

    def tick(self) -> None:
        now = int(time.time())
        calls = []
        for market in (OPEN_MARKET, CLOSED_MARKET):
            for endpoint in self.ENDPOINTS:
                self._calls += 1
                duration = 0.02 + (self._calls % 7) * 0.03
                calls.append((market, endpoint, now, duration, 200, 1))
        runs = [(m, "live", now - 1, now, "success", 10) for m in (OPEN_MARKET, CLOSED_MARKET)]
        with sqlite3.connect(self.db.path, timeout=10) as conn:
            conn.executemany(
                "INSERT INTO api_calls (market, endpoint, ts, duration_seconds, status_code, ok)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                calls,
            )
            conn.executemany(
                "INSERT INTO collection_runs (market, source, started_at, finished_at, status,"
                " rows_written) VALUES (?, ?, ?, ?, ?, ?)",
                runs,
            )
        self.db.add_orders(OPEN_MARKET, 1, "filled")


@dataclass(frozen=True)
class SlackMessage:
    channel: str
    title: str  # e.g. "[FIRING:1] HighOrderFailureRate (kr)"
    received_at: float  # time.monotonic()


def slack_messages(recorder: WebhookRecorder) -> list[SlackMessage]:
    """What Alertmanager posted to the Slack API URL (one attachment per message)."""
    messages = []
    for delivery in recorder.deliveries(SLACK_PATH):
        payload = delivery.payload if isinstance(delivery.payload, dict) else {}
        for attachment in payload.get("attachments", []):
            messages.append(
                SlackMessage(
                    str(payload.get("channel", "")),
                    str(attachment.get("title", "")),
                    delivery.received_at,
                )
            )
    return messages


def wait_for_slack(
    recorder: WebhookRecorder, channel: str, title_start: str, timeout: float, since: float
) -> SlackMessage:
    """The first Slack message to `channel` whose title starts with `title_start`."""

    def probe() -> SlackMessage | None:
        for message in slack_messages(recorder):
            if (
                message.received_at >= since
                and message.channel == channel
                and message.title.startswith(title_start)
            ):
                return message
        return None

    try:
        return wait_until(probe, timeout, f"Slack {channel}: {title_start!r}")
    except LiveError as error:
        seen = sorted({(m.channel, m.title) for m in slack_messages(recorder)})
        raise LiveError(f"{error}; Slack messages seen: {seen}") from None


class LiveStack:
    """Starts the pipeline in `workdir`; `close()` (or leaving the `with`) stops everything."""

    def __init__(self, workdir: Path, timings: LiveTimings | None = None) -> None:
        self.workdir = workdir
        self.timings = timings or LiveTimings()
        self.recorder = WebhookRecorder()
        self.db = TradingDatabase(workdir / "trading.db")
        self.feeder = ActivityFeeder(self.db)
        self.exporter_port = free_port()
        self.prometheus_port = free_port()
        self.alertmanager_port = free_port()
        self.settings = content_settings(
            self.timings,
            exporter=f"{HOST}:{self.exporter_port}",
            prometheus=f"{HOST}:{self.prometheus_port}",
            alertmanager=f"{HOST}:{self.alertmanager_port}",
            rules_dir=workdir / "rules",
            secrets_dir=workdir / "secrets",
        )
        self._exporter: ManagedProcess | None = None
        self._prometheus: ManagedProcess | None = None
        self._alertmanager: ManagedProcess | None = None

    # --- lifecycle ------------------------------------------------------------------------

    def __enter__(self) -> LiveStack:
        try:
            self.start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def start(self) -> None:
        self._write_files()
        self.feeder.start()
        self.start_exporter()
        self._alertmanager = self._start(
            "alertmanager",
            [
                "prometheus-alertmanager",
                f"--config.file={self.workdir / 'alertmanager.yml'}",
                f"--storage.path={self.workdir / 'alertmanager-data'}",
                f"--web.listen-address={HOST}:{self.alertmanager_port}",
                "--cluster.listen-address=",  # no gossip: a single instance
            ],
            f"{self.alertmanager_url}/-/ready",
        )
        args = prometheus.args(
            self.settings,
            config_file=str(self.workdir / "prometheus.yml"),
            storage_path=str(self.workdir / "prometheus-data"),
        )
        self._prometheus = self._start(
            "prometheus",
            [
                "prometheus",
                *args,
                f"--web.listen-address={HOST}:{self.prometheus_port}",
                f"--rules.alert.resend-delay={self.timings.resend_delay}",
            ],
            f"{self.prometheus_url}/-/ready",
        )
        wait_until(
            lambda: True if self.query('up{job="exporter"} == 1') else None,
            timeout=30,
            what="Prometheus' first successful scrape of the exporter",
        )
        self._wait_for_alertmanager()
        # Only now load the rules, with a reload: Prometheus applies discovered targets ~5 s
        # after start, so rules evaluated earlier would see `absent(up)`, a false ExporterDown
        # with our 2 s `for`.
        for name, text in self.rule_files().items():
            (Path(self.settings.rule_files_dir) / name).write_text(text)
        self._prometheus.reload()
        wait_until(
            lambda: True if self._prometheus_api("rules")["groups"] else None,
            timeout=30,
            what="Prometheus to load the rule files",
        )
        # The reload restarted Alertmanager discovery; alerts sent before it is back are lost.
        self._wait_for_alertmanager()

    def _wait_for_alertmanager(self) -> None:
        wait_until(
            lambda: True if self._prometheus_api("alertmanagers")["activeAlertmanagers"] else None,
            timeout=30,
            what="Prometheus to discover Alertmanager",
        )

    def _prometheus_api(self, path: str) -> Any:
        return get_json(f"{self.prometheus_url}/api/v1/{path}")["data"]

    def close(self) -> None:
        """Stop everything that was started; safe after a partial start."""
        for process in (self._prometheus, self._alertmanager, self._exporter):
            if process is not None:
                process.stop()
        self.feeder.stop()
        self.recorder.close()

    def _start(self, name: str, argv: list[str], ready_url: str) -> ManagedProcess:
        process = ManagedProcess(name, argv, self.workdir / f"{name}.log")
        process.start()
        process.wait_ready(ready_url, timeout=30)
        return process

    def _write_files(self) -> None:
        rules_dir = Path(self.settings.rule_files_dir)
        secrets_dir = Path(self.settings.receivers.secrets_dir)
        rules_dir.mkdir(parents=True)
        secrets_dir.mkdir(parents=True)
        demo_db.create(str(self.db.path), DEMO_ROWS, (OPEN_MARKET, CLOSED_MARKET))
        self.db.age_bars(CLOSED_MARKET, CLOSED_MARKET_DATA_AGE)
        (self.workdir / "exporter.yml").write_text(yaml.safe_dump(exporter_config(self.settings)))
        (self.workdir / "prometheus.yml").write_text(self.prometheus_config())
        (secrets_dir / notifications.SLACK_API_URL).write_text(self.recorder.url(SLACK_PATH))
        (self.workdir / "alertmanager.yml").write_text(self.alertmanager_config())

    # The rendered files (a subclass adds to them through the same renderers).

    def prometheus_config(self) -> str:
        return render_prometheus_config(self.settings)

    def rule_files(self) -> dict[str, str]:
        return render_rule_files(self.settings)

    def alertmanager_config(self) -> str:
        return render_alertmanager_config(
            self.settings,
            webhook_url=self.recorder.url(WEBHOOK_PATH),
            heartbeat_url=self.recorder.url(HEARTBEAT_PATH),
        )

    # --- the exporter (fault: target down) ---------------------------------------------------

    def start_exporter(self) -> None:
        self._exporter = self._start(
            "exporter",
            [
                sys.executable,
                "-m",
                "exporter",
                "serve",
                f"--db={self.db.path}",
                f"--listen={HOST}:{self.exporter_port}",
                f"--config={self.workdir / 'exporter.yml'}",
                f"--refresh-interval={self.timings.exporter_refresh:g}",
                "--log-level=warning",
            ],
            f"http://{HOST}:{self.exporter_port}/readyz",
        )

    def stop_exporter(self) -> None:
        if self._exporter is not None:
            self._exporter.stop()

    # --- order failures ---------------------------------------------------------------------

    def raise_order_failures(self, market: str, target_ratio: float) -> int:
        """Write failed orders until the 5-minute failure ratio (what the rule uses) is at
        least `target_ratio`; returns how many were written."""
        failed, total = self._order_increase(market)
        needed = max(1, math.ceil((target_ratio * total - failed) / (1 - target_ratio)))
        self.db.add_orders(market, needed, "failed")
        return needed

    def dilute_order_failures(self, market: str, target_ratio: float) -> int:
        """Write filled orders until the 5-minute failure ratio is at most `target_ratio`;
        returns how many were written."""
        failed, total = self._order_increase(market)
        needed = max(0, math.ceil(failed / target_ratio - total))
        self.db.add_orders(market, needed, "filled")
        return needed

    def _order_increase(self, market: str) -> tuple[float, float]:
        """(failed, all) orders of the market over the rule's 5-minute window."""
        selector = f'{{market="{market}"}}'
        failed = self._scalar(f"sum(increase(trading_orders_failed_total{selector}[5m]))")
        total = self._scalar(f"sum(increase(trading_orders_total{selector}[5m]))")
        return failed, total

    def _scalar(self, expr: str) -> float:
        result = self.query(expr)
        return float(result[0]["value"][1]) if result else 0.0

    # --- queries ----------------------------------------------------------------------------

    @property
    def prometheus_url(self) -> str:
        return f"http://{HOST}:{self.prometheus_port}"

    @property
    def alertmanager_url(self) -> str:
        return f"http://{HOST}:{self.alertmanager_port}"

    def query(self, expr: str) -> list[dict[str, Any]]:
        """An instant query; the result vector (or matrix), raising on a query error."""
        body = get_json(f"{self.prometheus_url}/api/v1/query", {"query": expr})
        if body.get("status") != "success":
            raise LiveError(f"query {expr!r} failed: {json.dumps(body)[:300]}")
        data = body["data"]
        if data["resultType"] in ("scalar", "string"):
            return [{"metric": {}, "value": data["result"]}]
        result: list[dict[str, Any]] = data["result"]
        return result

    def prometheus_alerts(self) -> list[dict[str, Any]]:
        alerts: list[dict[str, Any]] = self._prometheus_api("alerts")["alerts"]
        return alerts

    def logs(self) -> str:
        """The tail of every process log, for a failure message."""
        parts = []
        for process in (self._exporter, self._prometheus, self._alertmanager):
            if process is not None:
                parts.append(f"--- {process.name} ---\n{process.log_tail(15)}")
        return "\n".join(parts)


# --- the faults the test and the benchmark inject ---------------------------------------------


@dataclass(frozen=True)
class Fault:
    """A real fault, the alert it must raise (with these labels) and how to undo it."""

    name: str
    alertname: str
    labels: dict[str, str] = field(default_factory=dict)
    inject: Callable[[LiveStack], object] = lambda stack: None
    remove: Callable[[LiveStack], object] = lambda stack: None


def _age_open_market(stack: LiveStack) -> None:
    """Newest bar older than the warning limit and younger than the critical one."""
    t = stack.settings.thresholds
    stack.db.age_bars(
        OPEN_MARKET, (t.stale_data_warning_seconds + t.stale_data_critical_seconds) // 2
    )


TARGET_DOWN = Fault(
    "target down",
    "ExporterDown",
    {"severity": "critical", "category": "meta", "job": "exporter"},
    inject=LiveStack.stop_exporter,
    remove=LiveStack.start_exporter,
)
STALE_DATA = Fault(
    "stale data",
    "StaleMarketData",
    {"severity": "warning", "category": "data_quality", "market": OPEN_MARKET},
    inject=_age_open_market,
    remove=lambda stack: stack.db.add_fresh_bar(OPEN_MARKET),
)
ORDER_FAILURES = Fault(
    "order failures",
    "HighOrderFailureRate",
    {"severity": "warning", "category": "trading", "market": OPEN_MARKET},
    # Half of the last 5 minutes' orders fail (limit 10 %); then healthy fills bring it to 5 %.
    inject=lambda stack: stack.raise_order_failures(OPEN_MARKET, target_ratio=0.5),
    remove=lambda stack: stack.dilute_order_failures(OPEN_MARKET, target_ratio=0.05),
)
FAULTS: tuple[Fault, ...] = (TARGET_DOWN, STALE_DATA, ORDER_FAILURES)


@dataclass(frozen=True)
class FaultRun:
    """One inject-fire-remove-resolve cycle, timed at the webhook receiver (time.monotonic())."""

    fault: Fault
    injected_at: float
    firing: AlertEvent
    removed_at: float
    resolved: AlertEvent


def run_fault(
    stack: LiveStack,
    fault: Fault,
    timeout: float,
    while_firing: Callable[[float], object] = lambda injected_at: None,
) -> FaultRun:
    """Inject the fault, wait for its alert at the generic webhook, call `while_firing` (with
    the injection time), undo the fault and wait for the resolved notification."""
    instance = {k: v for k, v in fault.labels.items() if k == "market"}
    try:
        injected = time.monotonic()
        fault.inject(stack)
        firing = stack.recorder.wait_for_alert(
            WEBHOOK_PATH, fault.alertname, "firing", timeout, since=injected, labels=instance
        )
        while_firing(injected)
        removed = time.monotonic()
        fault.remove(stack)
        resolved = stack.recorder.wait_for_alert(
            WEBHOOK_PATH, fault.alertname, "resolved", timeout, since=removed, labels=instance
        )
    except LiveError as error:
        raise LiveError(f"{fault.name}: {error}\n{stack.logs()}") from None
    return FaultRun(fault, injected, firing, removed, resolved)
