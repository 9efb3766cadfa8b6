"""The reason an isolated record carries: ``Type: first line`` of what raised, the worker's own
cause when the error came back from a Python worker."""

from moviestream.pipeline.isolation import root_error


def test_a_driver_side_error_names_its_type_once():
    assert root_error(ValueError("bad title\nmore detail")) == "ValueError: bad title"


def test_a_python_worker_error_names_the_workers_cause():
    class PythonException(Exception):  # the shape of PySpark's, by name
        pass

    error = PythonException(
        "An exception was thrown from the Python worker.\nTraceback (most recent call last):\n"
        '  File "x.py", line 1, in f\nRuntimeError: the real cause\n'
    )
    assert root_error(error) == "RuntimeError: the real cause"
