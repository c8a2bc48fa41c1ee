"""One module per dashboard (or per family of dashboards)."""
