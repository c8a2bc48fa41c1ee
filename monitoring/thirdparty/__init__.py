"""Standard third-party components: PostgreSQL, Redis and NGINX, each watched by its exporter.

Plain data and pure functions, no Pulumi: `model` (the `trading-monitoring:components` config),
`exporters` (each exporter's flags, environment and secret files, our extend-queries file),
`rules` (alerts) and `scrape` (scrape jobs). `ContentSettings.components` carries the declared
instances: the usual renderers add their scrape jobs, rule files and inhibition rules, and
`dashboards.build_dashboards` their dashboards.
"""
