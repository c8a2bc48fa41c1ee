"""Standard third-party components: PostgreSQL, Redis and NGINX, each watched by its exporter.

Plain data and pure functions, no Pulumi: `model` (the `trading-monitoring:components` config),
`exporters` (each exporter's flags, environment and secret files, our extend-queries file),
`rules` (alerts, inhibition), `scrape` (scrape jobs) and `render` (the files with them added).
"""
