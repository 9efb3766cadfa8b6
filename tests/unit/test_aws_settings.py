"""AwsSettings assumes nothing about where it runs: boto3's own endpoint, region and credential
chains, and nothing written to the environment (the Glue jobs on AWS rely on both)."""

from __future__ import annotations

import os

import pytest

from moviestream.core.config import AwsConfigError, AwsSettings, describe_endpoint

AWS_VARIABLES = (
    "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_S3",
    "AWS_ENDPOINT_URL_KINESIS",
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_PROFILE",
)


@pytest.fixture
def clean_aws_env(monkeypatch, tmp_path):
    for name in AWS_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "credentials"))
    # No instance metadata here: a client made without credentials must not wait on it.
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


def test_without_endpoint_variables_clients_go_to_aws(clean_aws_env, monkeypatch):
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    client = AwsSettings().client("s3")
    assert "amazonaws.com" in client.meta.endpoint_url
    assert client.meta.region_name == "eu-west-1"
    assert describe_endpoint(client) == "AWS (eu-west-1)"


def test_making_a_client_writes_no_credentials(clean_aws_env, monkeypatch):
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
    AwsSettings().client("kinesis")
    assert "AWS_ACCESS_KEY_ID" not in os.environ
    assert "AWS_SECRET_ACCESS_KEY" not in os.environ


def test_aws_region_wins_over_default_region(clean_aws_env, monkeypatch):
    monkeypatch.setenv("AWS_REGION", "eu-central-1")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-west-2")
    assert AwsSettings().region == "eu-central-1"
    monkeypatch.delenv("AWS_REGION")
    assert AwsSettings().region == "us-west-2"


def test_per_service_endpoint_variables_are_honoured(clean_aws_env, monkeypatch):
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ENDPOINT_URL_KINESIS", "http://127.0.0.1:4999")
    assert AwsSettings().client("kinesis").meta.endpoint_url == "http://127.0.0.1:4999"
    assert "amazonaws.com" in AwsSettings().client("s3").meta.endpoint_url


def test_no_region_is_a_user_error(clean_aws_env):
    with pytest.raises(AwsConfigError, match="no AWS region"):
        AwsSettings().client("kinesis")  # (S3 alone would fall back to its global endpoint)
