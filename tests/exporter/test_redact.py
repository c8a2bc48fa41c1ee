"""Passwords are masked in every DSN form the exporter logs or puts in an error."""

from __future__ import annotations

import pytest

from exporter.db import DatabaseError, parse_target
from exporter.redact import mask_passwords

CASES = [
    # URL user info (a percent-encoded or unencoded "@" in the password)
    ("postgresql://app:s3cr%40t@db:5432/trading", "postgresql://app:***@db:5432/trading"),
    (
        "postgres://app:p@ss@db/trading?sslmode=require",
        "postgres://app:***@db/trading?sslmode=require",
    ),
    ("postgresql://:s3cret@db/trading", "postgresql://:***@db/trading"),
    # URL query parameters
    ("postgresql://app@db/trading?password=s3cret", "postgresql://app@db/trading?password=***"),
    (
        "postgresql://app@db/t?sslmode=verify-full&password=s3cret&sslpassword=k3y",
        "postgresql://app@db/t?sslmode=verify-full&password=***&sslpassword=***",
    ),
    # libpq key=value, plain and quoted (spaces, escaped quotes), any case, spaces around "="
    (
        "host=db user=app password=s3cret dbname=trading",
        "host=db user=app password=*** dbname=trading",
    ),
    ("host=db password='s3 cr\\'et' dbname=trading", "host=db password=*** dbname=trading"),
    ("host=db PASSWORD = s3cret port=5432", "host=db PASSWORD = *** port=5432"),
    # everything in one message, as a driver might echo it: an unquoted value is masked to
    # the end of its token (a password may hold quotes or brackets)
    (
        'connect to "postgresql://a:s3cret@h/d?passwd=x1" failed (db_password=y2)',
        'connect to "postgresql://a:***@h/d?passwd=*** failed (db_password=***',
    ),
]


@pytest.mark.parametrize(("text", "masked"), CASES)
def test_every_dsn_form_is_masked(text: str, masked: str) -> None:
    assert mask_passwords(text) == masked


@pytest.mark.parametrize(
    "text",
    [
        "postgresql://app@db:5432/trading",
        "data/trading.db",
        "host=db user=app dbname=trading",
        'password authentication failed for user "app"',
        "https://grafana.example/d/abc?orgId=1",
    ],
)
def test_text_without_a_password_is_unchanged(text: str) -> None:
    assert mask_passwords(text) == text


def test_targets_and_errors_never_show_the_password() -> None:
    for dsn, _ in CASES[:8]:
        target = parse_target(dsn)
        assert target.dialect == "postgresql", dsn
        assert "s3cr" not in target.describe() and "***" in target.describe()
    assert parse_target("host=db dbname=trading").dialect == "postgresql"
    assert parse_target("data/trading.db").dialect == "sqlite"
    assert str(DatabaseError("bad dsn host=db password=s3cret")) == "bad dsn host=db password=***"
