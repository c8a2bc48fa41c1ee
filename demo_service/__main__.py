"""python -m demo_service --port 8010 [--db demo.sqlite] [--markets kr,us] [--allow-faults]"""

from __future__ import annotations

import argparse
from pathlib import Path

from demo_service.app import DemoDatabase, DemoService


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="demo_service", description=__doc__)
    parser.add_argument("--host", default="0.0.0.0")
    parser.add_argument("--port", type=int, default=8010)
    parser.add_argument("--db", type=Path, help="demo SQLite database to write fresh rows into")
    parser.add_argument("--markets", default="kr", help="comma-separated market codes")
    parser.add_argument("--traffic", type=float, default=5.0, help="own requests per second")
    parser.add_argument("--write-every", type=float, default=30.0, help="seconds between rows")
    parser.add_argument(
        "--allow-faults", action="store_true", help="enable POST /admin/fault (tests, demos)"
    )
    args = parser.parse_args(argv)
    markets = [m for m in args.markets.split(",") if m]
    database = DemoDatabase(args.db, markets) if args.db else None
    service = DemoService(markets, database, allow_faults=args.allow_faults)
    service.start_background(args.traffic, args.write_every)
    server = service.serve(args.host, args.port)
    print(f"demo-service: listening on {args.host}:{args.port}", flush=True)
    try:
        server.serve_forever()
    finally:
        service.stop()


if __name__ == "__main__":
    main()
