"""Configuration shared by every component.

Resource names come from ``resources.json`` (the one source Terraform's defaults also read).
Endpoints and credentials come from environment variables whose defaults point at the local
stack started by ``make up``. boto3 itself honours ``AWS_ENDPOINT_URL``; we pass it explicitly
only so that one value can be shown in logs and errors.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any

DEFAULT_REGION = "us-east-1"
DEFAULT_AWS_ENDPOINT = "http://127.0.0.1:4566"
DEFAULT_WAREHOUSE_DSN = "postgresql://postgres@127.0.0.1:5433/moviestream"


@cache
def resource_names() -> dict[str, Any]:
    """The resource names every environment shares (local bootstrap and Terraform defaults)."""
    text = resources.files("moviestream").joinpath("resources.json").read_text(encoding="utf-8")
    return {k: v for k, v in json.loads(text).items() if not k.startswith("_")}


def _env(name: str, default: str) -> str:
    value = os.environ.get(name, "").strip()
    return value or default


@dataclass(frozen=True)
class AwsSettings:
    region: str = field(default_factory=lambda: _env("AWS_DEFAULT_REGION", DEFAULT_REGION))
    # None means "real AWS": boto3 then resolves endpoints itself.
    endpoint_url: str | None = field(
        default_factory=lambda: os.environ.get("AWS_ENDPOINT_URL", DEFAULT_AWS_ENDPOINT) or None
    )

    def client(self, service: str):  # noqa: ANN201 - boto3 clients have no common base type
        import boto3  # imported lazily: the core must import without side effects

        # LocalStack accepts any credentials; on AWS the normal credential chain applies.
        if self.endpoint_url and not os.environ.get("AWS_ACCESS_KEY_ID"):
            os.environ.setdefault("AWS_ACCESS_KEY_ID", "test")
            os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "test")
        from botocore.config import Config

        return boto3.client(
            service,
            region_name=self.region,
            endpoint_url=self.endpoint_url,
            config=Config(
                retries={"mode": "standard", "max_attempts": 5}, connect_timeout=5, read_timeout=30
            ),
        )


def warehouse_dsn() -> str:
    return _env("MOVIESTREAM_WAREHOUSE_DSN", DEFAULT_WAREHOUSE_DSN)
