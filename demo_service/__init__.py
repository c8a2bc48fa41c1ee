"""A small instrumented trading API: the dev stack's demo service and the live tests' service.

`python -m demo_service --port 8010 --db demo.sqlite --markets kr,us` serves `/api/quote`,
`/health` and `/metrics` (prometheus_client), generates its own light traffic, and writes
fresh rows (OHLCV bars, collection runs, API calls) into the demo database so the exporter's
data stays fresh. Declared in dev through a normal `services` entry, it is the example to copy.
"""
