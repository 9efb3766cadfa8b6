"""The one redaction helper (moviestream/core/dsn.py): no password of a DSN survives in a
message, whatever form the DSN or the message takes."""

from __future__ import annotations

import pytest

from moviestream.core.dsn import has_password, redact, target
from moviestream.warehouse.redshift import RedshiftSettings


@pytest.mark.parametrize(
    ("text", "dsn", "expected"),
    [
        # psycopg quoting a mistyped scheme whole
        (
            'missing "=" after "redshfit://loader:S3cretPw@h:5439/db" in connection info string',
            "redshfit://loader:S3cretPw@h:5439/db",
            'missing "=" after "redshfit://loader:***@h:5439/db" in connection info string',
        ),
        # the password percent-decoded by a driver, shown on its own
        ("auth failed for p@ss!", "postgresql://u:p%40ss!@h/d", "auth failed for ***"),
        # key/value connection strings, quoted or not
        (
            "bad option near password='a b' host=h",
            "host=h password='a b'",
            "bad option near password=*** host=h",
        ),
        ("password=hunter2 dbname=x", "", "password=*** dbname=x"),
        # any credentials in the text, even of another DSN
        ("see postgres://x:y@z/w", "", "see postgres://x:***@z/w"),
        ("no secret here", "postgresql://postgres@127.0.0.1:5433/moviestream", "no secret here"),
    ],
)
def test_redact_removes_every_form_of_the_password(text, dsn, expected):
    assert redact(text, dsn) == expected


def test_target_names_where_a_dsn_points_without_credentials():
    assert target("redshift://loader:pw@wg.example:5439/dev?iam_role=x") == "redshift://wg.example:5439/dev"
    assert target("postgresql://u:p@h/d") == "postgresql://h/d"
    assert target("host=h port=6 dbname=d password=p") == "h:6/d"
    assert target("nonsense") == "an unreadable DSN"
    assert has_password("postgresql://u:p@h/d") and not has_password("postgresql://u@h/d")


def test_redshift_settings_keep_the_password_out_of_their_repr():
    settings = RedshiftSettings.from_dsn(
        "redshift://loader:S3cretPw@wg.example:5439/dev?iam_role=arn:aws:iam::123456789012:role/r"
        "&staging_uri=s3://bucket/staging"
    )
    assert settings.password == "S3cretPw" and "S3cretPw" not in repr(settings)


def test_a_malformed_dsn_fails_where_the_warehouse_is_opened_without_its_password():
    """Before any connection or batch: the Glue entries open the warehouse at start."""
    from moviestream.warehouse.targets import open_warehouse

    with pytest.raises(ValueError) as caught:
        open_warehouse("redshfit://loader:S3cretPw@warehouse.example:5439/movies")
    assert str(caught.value) == (
        "the warehouse DSN redshfit://warehouse.example:5439/movies is neither postgresql://… nor redshift://…:"
        ' missing "=" after "redshfit://loader:***@warehouse.example:5439/movies" in connection info string'
    )
    assert caught.value.__suppress_context__  # psycopg's own error, which quotes the password, is not shown
