"""The trading exporter: cached SQL aggregates, market calendars and its own health."""

__version__ = "0.1.0"
