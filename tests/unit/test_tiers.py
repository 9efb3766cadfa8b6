"""The unit tier's guard (tests/conftest.py): a unit test that starts a JVM, a process or worker
processes, or opens a network connection, fails, naming the tier it belongs in."""

from __future__ import annotations

import multiprocessing
import socket
import subprocess

import pytest

from tests.conftest import TierViolation


def test_a_jvm_start_fails_the_unit_tier():
    from pyspark.java_gateway import launch_gateway

    with pytest.raises(TierViolation, match="started a process: mark it spark, tools or integration"):
        launch_gateway()


def test_a_subprocess_fails_the_unit_tier():
    with pytest.raises(TierViolation, match="started a process"):
        subprocess.run(["true"], check=False)


def test_worker_processes_fail_the_unit_tier():
    with pytest.raises(TierViolation, match="started a worker process"):
        multiprocessing.get_context("fork").Process(target=print).start()


def test_a_network_connection_fails_the_unit_tier():
    with pytest.raises(TierViolation, match="connected to"):
        socket.create_connection(("127.0.0.1", 9), timeout=1)


@pytest.mark.tools
def test_other_tiers_may_start_processes():
    assert subprocess.run(["true"], check=False).returncode == 0


def test_a_modules_tests_share_one_xdist_group(request):
    """Under `make test TEST_WORKERS=2` a module's tests run on one worker, so its fixtures are
    made once: the group is in the node id xdist schedules by (it was not, once, and the demos and
    the reference run were each made on both workers)."""
    assert [m.args[0] for m in request.node.iter_markers("xdist_group")] == ["tests.unit.test_tiers"]
    if getattr(request.config.option, "loadgroup", False):  # on an xdist worker
        assert request.node.nodeid.endswith(
            "::test_a_modules_tests_share_one_xdist_group@tests.unit.test_tiers"
        )
