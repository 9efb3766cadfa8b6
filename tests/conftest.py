"""Shared fixtures: one local SparkSession per test session (small, UI off, UTC)."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def spark():
    from moviestream.core.spark import local_session

    session = local_session("moviestream-tests", cores=2)
    yield session
    session.stop()
