"""Real PostgreSQL (a primary and a streaming replica), Redis and NGINX on 127.0.0.1, the real
Debian exporters started with the flags, environment and secret files our renderers produce,
and the live pipeline (Prometheus, Alertmanager, webhook) with the component rules added.

As root, PostgreSQL runs as `nobody` (it refuses to run as root) in a directory under /tmp.
"""

from __future__ import annotations

import dataclasses
import glob
import os
import shutil
import socket
import tempfile
import threading
from pathlib import Path

import psycopg

from monitoring.thirdparty import exporters
from monitoring.thirdparty.model import (
    Components,
    Instance,
    Kind,
    PostgresInstance,
    RedisInstance,
    parse_components,
)
from monitoring.thresholds import ComponentThresholds
from tests.live.harness import LiveStack, LiveTimings, seconds
from tests.live.processes import (
    HOST,
    LiveError,
    ManagedProcess,
    free_port,
    http_get,
    start_on_free_port,
    wait_until,
)

NOBODY = 65534
BINARIES = (
    "redis-server",
    "prometheus-postgres-exporter",
    "prometheus-redis-exporter",
    "prometheus-nginx-exporter",
)
NGINX = "/usr/sbin/nginx"
EXPORTER_BINARIES: dict[Kind, str] = {
    "postgres": "prometheus-postgres-exporter",
    "redis": "prometheus-redis-exporter",
    "nginx": "prometheus-nginx-exporter",
}
PRIMARY, REPLICA, CACHE, EDGE = "trading-db", "trading-replica", "cache", "edge"
DATABASE, EXPORTER_ROLE = "trading", "exporter"
# postgres_exporter answers a scrape after ~1 s while its database is down: the 1 s scrape
# timeout of the other live tests would turn that into a failed scrape (TargetDown).
COMPONENT_TIMINGS = LiveTimings(
    scrape_interval=2,
    evaluation_interval=1,
    group_wait=1,
    group_interval=1,
    exporter_refresh=1.0,
    alert_for=2,
    resend_delay="2s",
)
REDIS_MAXMEMORY = 4 * 1024 * 1024
REDIS_MAXCLIENTS = 16
# Test-only secrets: the values the exporters must read from their secret files.
DB_PASSWORD = "live-db-password"
REDIS_PASSWORD = "live-redis-password"


def postgres_bindir() -> Path | None:
    found = shutil.which("initdb")
    if found:
        return Path(os.path.realpath(found)).parent
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return Path(candidates[-1]).parent if candidates else None


def missing_binaries() -> list[str]:
    missing = [name for name in BINARIES if shutil.which(name) is None]
    if not os.path.exists(NGINX):
        missing.append(NGINX)
    if postgres_bindir() is None:
        missing.append("initdb (postgresql)")
    return missing


def _as_nobody(argv: list[str]) -> list[str]:
    if os.getuid() != 0:
        return argv
    return ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups", *argv]


class Postgres:
    """One PostgreSQL server; TCP clients authenticate with SCRAM, local ones are trusted."""

    def __init__(self, name: str, root: Path, bindir: Path) -> None:
        self.name = name
        self.bindir = bindir
        self.datadir = root / name
        self.port = free_port()
        self.log = root / f"{name}.log"
        self.process: ManagedProcess | None = None

    def init_primary(self) -> None:
        self.datadir.mkdir(mode=0o700)
        _chown(self.datadir)
        _run(
            _as_nobody(
                [
                    str(self.bindir / "initdb"),
                    "-D",
                    str(self.datadir),
                    "-U",
                    "postgres",
                    "--auth-local=trust",
                    "--auth-host=scram-sha-256",
                    "--no-sync",
                ]
            )
        )

    def init_replica(self, primary: Postgres) -> None:
        """A streaming replica of `primary` (base backup over its Unix socket; -R: standby)."""
        self.datadir.mkdir(mode=0o700)
        _chown(self.datadir)
        _run(
            _as_nobody(
                [
                    str(self.bindir / "pg_basebackup"),
                    "-h",
                    str(primary.datadir),
                    "-p",
                    str(primary.port),
                    "-U",
                    "postgres",
                    "-D",
                    str(self.datadir),
                    "-R",
                    "--checkpoint=fast",
                    "--no-sync",
                ]
            )
        )

    def start(self) -> None:
        argv = [
            str(self.bindir / "postgres"),
            "-D",
            str(self.datadir),
            "-p",
            str(self.port),
            "-c",
            f"listen_addresses={HOST}",
            "-c",
            f"unix_socket_directories={self.datadir}",
            "-c",
            "fsync=off",
            "-c",
            "deadlock_timeout=200ms",
        ]
        self.process = ManagedProcess(f"postgres {self.name}", _as_nobody(argv), self.log)
        self.process.start()

        def ready() -> bool | None:
            if not self.process or not self.process.running:
                raise LiveError(
                    f"postgres {self.name} exited:\n{self.process and self.process.log_tail()}"
                )
            try:
                with self.connect("postgres"):
                    return True
            except psycopg.OperationalError:
                return None

        wait_until(ready, 60, f"postgres {self.name} to accept connections")

    def stop(self) -> None:
        """Fast shutdown (a smart one would wait for the exporter's open session)."""
        if self.process is None or not self.process.running:
            return
        _run(
            _as_nobody(
                [str(self.bindir / "pg_ctl"), "-D", str(self.datadir), "-m", "fast", "-w", "stop"]
            )
        )
        self.process.stop(timeout=30)

    def connect(self, database: str = DATABASE, autocommit: bool = True) -> psycopg.Connection:
        """A superuser connection over the Unix socket (trusted)."""
        return psycopg.connect(
            host=str(self.datadir),
            port=self.port,
            user="postgres",
            dbname=database,
            autocommit=autocommit,
            connect_timeout=2,
        )

    def setup(self) -> None:
        """The exporter's role (`GRANT pg_monitor`, as the README says) and a small table."""
        with self.connect("postgres") as conn:
            conn.execute(f"CREATE ROLE {EXPORTER_ROLE} LOGIN PASSWORD '{DB_PASSWORD}'".encode())
            conn.execute(f"GRANT pg_monitor TO {EXPORTER_ROLE}".encode())
            conn.execute(f"CREATE DATABASE {DATABASE}".encode())
        with self.connect() as conn:
            conn.execute(b"CREATE TABLE accounts (id integer PRIMARY KEY, balance integer)")
            conn.execute(b"INSERT INTO accounts VALUES (1, 100), (2, 100)")

    def deadlock(self) -> int:
        """Two transactions that lock rows 1 and 2 in opposite orders: PostgreSQL aborts one.
        Returns how many were aborted as deadlocked (1)."""
        first, second = self.connect(autocommit=False), self.connect(autocommit=False)
        aborted = 0
        barrier = threading.Barrier(2)

        def run(conn: psycopg.Connection, mine: int, theirs: int) -> None:
            nonlocal aborted
            try:
                conn.execute(b"UPDATE accounts SET balance = balance - 1 WHERE id = %s", (mine,))
                barrier.wait(timeout=10)
                conn.execute(b"UPDATE accounts SET balance = balance + 1 WHERE id = %s", (theirs,))
                conn.commit()
            except psycopg.errors.DeadlockDetected:
                aborted += 1
                conn.rollback()

        try:
            threads = [
                threading.Thread(target=run, args=(first, 1, 2)),
                threading.Thread(target=run, args=(second, 2, 1)),
            ]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(timeout=30)
        finally:
            first.close()
            second.close()
        return aborted


def _chown(path: Path) -> None:
    if os.getuid() == 0:
        os.chown(path, NOBODY, NOBODY)


def _run(argv: list[str]) -> None:
    import subprocess

    result = subprocess.run(argv, capture_output=True, text=True, timeout=120, check=False)
    if result.returncode != 0:
        raise LiveError(f"{argv[0]} failed: {result.stdout}{result.stderr}")


class Redis:
    """redis-server with requirepass, maxmemory + allkeys-lru and a small maxclients."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.port = free_port()
        self.process: ManagedProcess | None = None

    @property
    def address(self) -> str:
        return f"redis://{HOST}:{self.port}"

    def start(self) -> None:
        argv = [
            "redis-server",
            "--port",
            str(self.port),
            "--bind",
            HOST,
            "--requirepass",
            REDIS_PASSWORD,
            "--maxmemory",
            str(REDIS_MAXMEMORY),
            "--maxmemory-policy",
            "allkeys-lru",
            "--maxclients",
            str(REDIS_MAXCLIENTS),
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(self.root),
        ]
        self.process = ManagedProcess("redis", argv, self.root / "redis.log")
        self.process.start()
        wait_until(lambda: True if self._ping() else None, 30, "redis to answer PING")

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop()

    def _command(self, sock: socket.socket, *parts: str) -> None:
        encoded = [p.encode() for p in parts]
        sock.sendall(
            b"*%d\r\n" % len(encoded) + b"".join(b"$%d\r\n%s\r\n" % (len(p), p) for p in encoded)
        )

    def _ping(self) -> bool:
        try:
            with socket.create_connection((HOST, self.port), timeout=1) as sock:
                self._command(sock, "AUTH", REDIS_PASSWORD)
                self._command(sock, "PING")
                return b"+PONG" in _read_until(sock, b"+PONG", 1.0)
        except OSError:
            return False

    def fill(self, megabytes: int) -> None:
        """Write `megabytes` of 64 KiB values: past maxmemory, LRU evicts keys."""
        value = "x" * 65536
        with socket.create_connection((HOST, self.port), timeout=5) as sock:
            self._command(sock, "AUTH", REDIS_PASSWORD)
            count = megabytes * 16
            for index in range(count):
                self._command(sock, "SET", f"fill:{index}", value)
            replies = _read_until(sock, b"+OK\r\n" * 1, 5.0, count=count + 1)
            if replies.count(b"+OK") < count + 1:
                raise LiveError(f"redis fill: {replies[:200]!r}")

    def exhaust_clients(self, extra: int) -> None:
        """Open maxclients + `extra` connections at once (the extra ones are rejected), then
        close them all at once, so the exporter misses at most one scrape."""
        sockets = []
        try:
            for _ in range(REDIS_MAXCLIENTS + extra):
                sockets.append(socket.create_connection((HOST, self.port), timeout=2))
            for sock in sockets[-extra:]:
                _read_until(sock, b"max number of clients", 2.0)
        finally:
            for sock in sockets:
                sock.close()


def _read_until(sock: socket.socket, marker: bytes, timeout: float, count: int = 1) -> bytes:
    sock.settimeout(timeout)
    data = b""
    try:
        while data.count(marker) < count:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    except TimeoutError:
        pass
    return data


class Nginx:
    def __init__(self, root: Path) -> None:
        self.root = root / "nginx"
        self.port = free_port()
        self.process: ManagedProcess | None = None

    @property
    def status_url(self) -> str:
        return f"http://{HOST}:{self.port}/stub_status"

    def start(self) -> None:
        self.root.mkdir(exist_ok=True)
        (self.root / "logs").mkdir(exist_ok=True)
        temp = self.root / "tmp"
        temp.mkdir(exist_ok=True)
        conf = self.root / "nginx.conf"
        conf.write_text(
            f"""daemon off;
master_process off;
pid {self.root}/nginx.pid;
error_log {self.root}/error.log;
events {{ worker_connections 64; }}
http {{
  access_log off;
  client_body_temp_path {temp}/body;
  proxy_temp_path {temp}/proxy;
  fastcgi_temp_path {temp}/fastcgi;
  uwsgi_temp_path {temp}/uwsgi;
  scgi_temp_path {temp}/scgi;
  server {{
    listen {HOST}:{self.port};
    location = /stub_status {{ stub_status; }}
    location / {{ return 200 "ok\\n"; }}
  }}
}}
"""
        )
        self.process = ManagedProcess(
            "nginx", [NGINX, "-p", str(self.root), "-c", str(conf)], self.root / "nginx.log"
        )
        self.process.start()
        self.process.wait_ready(self.status_url, timeout=30)

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop()

    def request(self) -> None:
        http_get(f"http://{HOST}:{self.port}/")


def component_thresholds(timings: LiveTimings) -> ComponentThresholds:
    """Short `for`s for the alerts the faults trigger."""
    return dataclasses.replace(ComponentThresholds(), down_for=seconds(timings.alert_for))


class ComponentStack(LiveStack):
    """The live pipeline plus PostgreSQL (primary + replica), Redis, NGINX and their exporters."""

    def __init__(self, workdir: Path, timings: LiveTimings | None = None) -> None:
        super().__init__(workdir, timings)
        bindir = postgres_bindir()
        if bindir is None:
            raise LiveError("PostgreSQL server binaries are not installed")
        # Readable by `nobody`, unlike pytest's tmp directories.
        self.pg_root = Path(tempfile.mkdtemp(prefix="live-pg-", dir="/tmp"))
        self.pg_root.chmod(0o755)
        self.primary = Postgres(PRIMARY, self.pg_root, bindir)
        self.replica = Postgres(REPLICA, self.pg_root, bindir)
        self.redis = Redis(workdir)
        self.nginx = Nginx(workdir)
        self.component_thresholds = component_thresholds(self.timings)
        self.components: Components = parse_components(
            {
                "postgres": [
                    self._postgres_config(PRIMARY, self.primary),
                    self._postgres_config(REPLICA, self.replica),
                ],
                "redis": [
                    {"name": CACHE, "address": self.redis.address, "passwordSecret": "cachePw"}
                ],
                "nginx": [{"name": EDGE, "statusUrl": self.nginx.status_url}],
            }
        )
        self.exporters: dict[str, ManagedProcess] = {}
        self.exporter_ports: dict[tuple[Kind, str], int] = {}
        self.metrics_dir = workdir / "exporter-metrics"

    @staticmethod
    def _postgres_config(name: str, server: Postgres) -> dict[str, object]:
        return {
            "name": name,
            "address": f"{HOST}:{server.port}",
            "database": DATABASE,
            "user": EXPORTER_ROLE,
            "passwordSecret": "tradingDbPassword",
            "sslmode": "disable",
            "replicationLagQueries": True,
        }

    def start(self) -> None:
        self.primary.init_primary()
        self.primary.start()
        self.primary.setup()
        self.replica.init_replica(self.primary)
        self.replica.start()
        self.redis.start()
        self.nginx.start()
        for kind in self.components.kinds:
            for instance in self.components.of(kind):
                self.start_component_exporter(instance)
        # Every renderer gets the components and where their exporters listen.
        targets = tuple(
            (kind, name, f"{HOST}:{port}") for (kind, name), port in self.exporter_ports.items()
        )
        self.settings = dataclasses.replace(
            self.settings,
            components=self.components,
            component_thresholds=self.component_thresholds,
            targets=dataclasses.replace(self.settings.targets, components=targets),
        )
        super().start()

    def close(self) -> None:
        try:
            super().close()
        finally:
            for process in self.exporters.values():
                process.stop()
            for server in (self.nginx, self.redis, self.replica, self.primary):
                server.stop()
            shutil.rmtree(self.pg_root, ignore_errors=True)

    # --- exporters, started from our ExporterCommand and secret files ------------------------

    def _instance_dir(self, instance: Instance) -> Path:
        path = self.workdir / "exporters" / instance.name
        (path / "secrets").mkdir(parents=True, exist_ok=True)
        (path / "config").mkdir(parents=True, exist_ok=True)
        return path

    def _command(self, instance: Instance, port: int) -> exporters.ExporterCommand:
        home = self._instance_dir(instance)
        secrets, config = str(home / "secrets"), str(home / "config")
        if isinstance(instance, PostgresInstance):
            return exporters.postgres_exporter(
                instance, port=port, host=HOST, secrets_dir=secrets, config_dir=config
            )
        if isinstance(instance, RedisInstance):
            return exporters.redis_exporter(instance, port=port, host=HOST, secrets_dir=secrets)
        return exporters.nginx_exporter(instance, port=port, host=HOST)

    def start_component_exporter(self, instance: Instance) -> None:
        password = DB_PASSWORD if isinstance(instance, PostgresInstance) else REDIS_PASSWORD
        home = self._instance_dir(instance)

        def argv(port: int) -> list[str]:
            command = self._command(instance, port)
            for name in command.secret_files:
                path = home / "secrets" / name
                path.write_text(exporters.secret_file_content(instance, name, password))
                path.chmod(0o600)
            for name in command.config_files:
                (home / "config" / name).write_text(exporters.config_file_content(name))
            env = [f"{key}={value}" for key, value in command.env]
            return ["env", *env, EXPORTER_BINARIES[command.kind], *command.args]

        kind = self._kind(instance)
        process, port = start_on_free_port(
            f"{kind}-exporter-{instance.name}",
            argv,
            exporters.METRICS_PATH,
            self.workdir / f"{kind}-exporter-{instance.name}.log",
        )
        self.exporters[instance.name] = process
        self.exporter_ports[(kind, instance.name)] = port

    @staticmethod
    def _kind(instance: Instance) -> Kind:
        if isinstance(instance, PostgresInstance):
            return "postgres"
        return "redis" if isinstance(instance, RedisInstance) else "nginx"

    def capture_metrics(self) -> dict[str, str]:
        """Each component exporter's /metrics, saved under `metrics_dir` (instance -> text)."""
        self.metrics_dir.mkdir(exist_ok=True)
        captured = {}
        for (kind, name), port in self.exporter_ports.items():
            status, body = http_get(f"http://{HOST}:{port}{exporters.METRICS_PATH}", timeout=10)
            if status != 200:
                raise LiveError(f"{kind} exporter {name}: /metrics -> {status}")
            text = body.decode()
            (self.metrics_dir / f"{kind}-{name}.prom").write_text(text)
            captured[f"{kind}/{name}"] = text
        return captured

    def logs(self) -> str:
        parts = [super().logs()]
        for process in self.exporters.values():
            parts.append(f"--- {process.name} ---\n{process.log_tail(10)}")
        return "\n".join(parts)
