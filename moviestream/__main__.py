"""``python -m moviestream``: the same as the ``moviestream`` command."""

from moviestream.cli import run

if __name__ == "__main__":
    run()
