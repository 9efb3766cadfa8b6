"""Warehouse DSNs in messages, never with their password: the one place that redacts them.

A DSN reaches an error message in two ways: our own text naming the target, and a driver's
error that quotes what it was given (psycopg's ``missing "=" after "redshfit://loader:S3cret@…"``
for a mistyped scheme). So every place that opens a connection reports ``target(dsn)`` and
passes the driver's text through ``redact(text, dsn)``, which removes the DSN's own password
wherever it appears (as written and percent-decoded) and any ``user:password@`` or
``password=...`` the text holds besides.
"""

from __future__ import annotations

import re
from urllib.parse import unquote, urlsplit

MASK = "***"
# user:password@ after a scheme, whatever the scheme (a typo included).
_URL_CREDENTIALS = re.compile(r"(?P<head>[A-Za-z][A-Za-z0-9+.-]*://[^:/@\s\"']*):(?P<password>[^@\s\"']*)@")
# password=value in a key/value connection string, quoted or not.
_KEY_VALUE = re.compile(r"(?i)(?P<head>\bpassword\s*=\s*)(?P<password>'(?:[^'\\]|\\.)*'|[^\s\"']+)")


def passwords(dsn: str) -> list[str]:
    """The DSN's password as it may show up in text: as written and percent-decoded."""
    found: list[str] = []
    try:
        written = urlsplit(dsn).password
    except ValueError:  # not even URL-shaped
        written = None
    for match in _URL_CREDENTIALS.finditer(dsn):
        written = written or match.group("password")
    for match in _KEY_VALUE.finditer(dsn):
        found.append(match.group("password").strip("'"))
    if written:
        found += [written, unquote(written)]
    return sorted({p for p in found if p}, key=len, reverse=True)


def has_password(dsn: str) -> bool:
    return bool(passwords(dsn))


def redact(text: str, dsn: str = "") -> str:
    """``text`` without ``dsn``'s password and without any credentials it spells out."""
    for secret in passwords(dsn):
        text = text.replace(secret, MASK)
    text = _URL_CREDENTIALS.sub(lambda m: f"{m.group('head')}:{MASK}@", text)
    return _KEY_VALUE.sub(lambda m: f"{m.group('head')}{MASK}", text)


def target(dsn: str) -> str:
    """Where a DSN points, for a message: scheme://host:port/database, no user or password."""
    try:
        parts = urlsplit(dsn)
        if parts.scheme and parts.hostname:
            port = f":{parts.port}" if parts.port else ""
            return f"{parts.scheme}://{parts.hostname}{port}{parts.path}"
    except ValueError:
        pass
    fields = dict(re.findall(r"(?i)\b(host|port|dbname)\s*=\s*([^\s'\"]+)", dsn))
    if fields:
        return f"{fields.get('host', '?')}:{fields.get('port', '5432')}/{fields.get('dbname', '?')}"
    return "an unreadable DSN"
