"""The real local stack for integration tests: LocalStack + PostgreSQL, started once per test
session on free ports with a private state directory, bootstrapped, and stopped at the end."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

from devstack.stack import REPO_ROOT, StackConfig, down, up


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pytest_collection_modifyitems(items):
    for item in items:
        if "tests/integration" in str(item.fspath):
            item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="session")
def stack(tmp_path_factory):
    state = tmp_path_factory.mktemp("stack")
    # Reuse the checkout's LocalStack virtualenv (same lock file) instead of installing it per run.
    os.environ.setdefault("MOVIESTREAM_LOCALSTACK_VENV", str(REPO_ROOT / ".local" / "localstack-venv"))
    cfg = StackConfig(
        state_dir=Path(state), localstack_port=_free_port(), postgres_port=_free_port(), start_timeout_s=180
    )
    saved = {k: os.environ.get(k) for k in cfg.env()}
    try:
        up(cfg)
        os.environ.update(cfg.env())
        from devstack.bootstrap import bootstrap
        from moviestream.config import AwsSettings

        bootstrap(AwsSettings(), cfg.warehouse_dsn)
        yield cfg
    finally:
        down(cfg)
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
