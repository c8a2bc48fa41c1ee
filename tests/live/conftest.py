"""One live pipeline per test module; every process is stopped in teardown, pass or fail."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.live.harness import LiveStack, LiveTimings
from tests.live.processes import sigterm_unwinds

REQUIRED_BINARIES = ("prometheus", "prometheus-alertmanager")

# Short intervals for the test, passed to the renderers as parameters.
TEST_TIMINGS = LiveTimings(
    scrape_interval=1,
    evaluation_interval=1,
    group_wait=1,
    group_interval=1,
    repeat_interval="1h",
    exporter_refresh=1.0,
    alert_for=2,
    # The Watchdog's first send is dropped while Prometheus rediscovers Alertmanager after
    # the reload that loads the rules; resend it within seconds, not after the default 1m.
    resend_delay="2s",
)


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveStack]:
    missing = [name for name in REQUIRED_BINARIES if shutil.which(name) is None]
    if missing:
        # `make test` installs them (`make tools`); a bare pytest run must say what is missing.
        pytest.fail(f"the live test needs {', '.join(missing)} on PATH: run `make tools`")
    workdir: Path = tmp_path_factory.mktemp("live")
    with sigterm_unwinds(), LiveStack(workdir, TEST_TIMINGS) as stack:
        yield stack
        if stack.feeder.error is not None:
            raise stack.feeder.error
