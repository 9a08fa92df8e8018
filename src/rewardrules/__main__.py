"""`python -m rewardrules`."""

from .cli import run

run()
