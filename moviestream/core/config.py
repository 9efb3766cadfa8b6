"""Configuration shared by every component.

Resource names come from ``resources.json`` (the one source Terraform's defaults also read).

AWS: library code uses boto3's normal chains and assumes nothing about where it runs. The
region is ``AWS_REGION`` or ``AWS_DEFAULT_REGION`` (else boto3's config file); the endpoint is
boto3's own resolution (``AWS_ENDPOINT_URL``, ``AWS_ENDPOINT_URL_<SERVICE>``, the config file, or
AWS itself); credentials come from the provider chain. Nothing here writes to the environment.
The local stack's endpoint and its test credentials are exported only by the local entry points
(``moviestream stack env``, which the make targets evaluate, and the devstack commands).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any

# The local stack's PostgreSQL (make up): the default of the command-line tools' --warehouse-dsn.
DEFAULT_WAREHOUSE_DSN = "postgresql://loader@127.0.0.1:5433/moviestream"


@cache
def resource_names() -> dict[str, Any]:
    """The resource names every environment shares (local bootstrap and Terraform defaults)."""
    text = resources.files("moviestream.core").joinpath("resources.json").read_text(encoding="utf-8")
    return {k: v for k, v in json.loads(text).items() if not k.startswith("_")}


def _env(name: str, default: str) -> str:
    value = os.environ.get(name, "").strip()
    return value or default


def region_from_env() -> str | None:
    """``AWS_REGION`` (what AWS runtimes such as Glue and Lambda set), then ``AWS_DEFAULT_REGION``;
    None lets boto3 read its config file."""
    for name in ("AWS_REGION", "AWS_DEFAULT_REGION"):
        value = os.environ.get(name, "").strip()
        if value:
            return value
    return None


class AwsConfigError(ValueError):
    """The AWS configuration is incomplete (no region): a user error, reported in one line."""


@dataclass(frozen=True)
class AwsSettings:
    """How the project's boto3 clients are made. The defaults are boto3's own chains."""

    region: str | None = field(default_factory=region_from_env)
    # None: boto3 resolves the endpoint (AWS_ENDPOINT_URL and friends, or AWS). Set only by callers
    # that must pin one endpoint, such as a fault test's second LocalStack.
    endpoint_url: str | None = None

    def client(
        self, service: str, best_effort: bool = False, attempts: int = 5
    ):  # boto3 clients have no common base type
        """A boto3 client. ``best_effort``: one attempt with short timeouts, for calls that must
        never hold up a batch (alerts, metrics); otherwise the SDK's standard retries, up to
        ``attempts`` (a caller with a retry policy of its own asks for fewer, so an outage
        reaches that policy instead of hiding in the SDK's back-off)."""
        import boto3  # imported lazily: the core must import without side effects
        from botocore.config import Config
        from botocore.exceptions import NoRegionError

        config = (
            Config(retries={"mode": "standard", "max_attempts": 1}, connect_timeout=1, read_timeout=2)
            if best_effort
            else Config(
                retries={"mode": "standard", "max_attempts": attempts}, connect_timeout=5, read_timeout=30
            )
        )
        try:
            return boto3.client(
                service, region_name=self.region, endpoint_url=self.endpoint_url, config=config
            )
        except NoRegionError:
            raise AwsConfigError(
                "no AWS region: set AWS_REGION (or a region in ~/.aws/config); for the local stack run "
                'eval "$(.venv/bin/moviestream stack env)" first'
            ) from None


def describe_endpoint(client: Any) -> str:
    """Where a boto3 client sends its calls, for one-line errors: "AWS (eu-west-1)" or the URL
    of a custom endpoint such as the local stack's."""
    url = client.meta.endpoint_url
    if url.endswith(".amazonaws.com") or ".amazonaws.com/" in url or url.endswith(".amazonaws.com.cn"):
        return f"AWS ({client.meta.region_name})"
    return url


def warehouse_dsn() -> str:
    return _env("MOVIESTREAM_WAREHOUSE_DSN", DEFAULT_WAREHOUSE_DSN)
