"""`python -m exporter serve --db PATH` or `python -m exporter demo-db PATH --rows N`."""

from exporter.cli import main

raise SystemExit(main())
