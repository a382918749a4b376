"""The one-line texts every layer shares: an error's first line and a duration."""

import pytest

from pigeonhole.core.errors import first_line
from pigeonhole.core.tasks import format_duration


def test_first_line_is_the_first_line_cut_to_the_limit():
    error = RuntimeError("  resampler exploded\nTraceback follows\n")
    assert first_line(error) == "resampler exploded"
    assert first_line(error, typed=True) == "RuntimeError: resampler exploded"
    assert first_line(ValueError("x" * 500)) == "x" * 200
    assert first_line(ValueError("x" * 500), 160) == "x" * 160


def test_an_empty_message_reads_as_the_type():
    assert first_line(KeyError()) == "KeyError"
    assert first_line(RuntimeError("  \n"), typed=True) == "RuntimeError"


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0, "0 s"), (0.4, "0 s"), (59.4, "59 s"), (59.6, "1:00"), (187, "3:07"), (3787, "1:03:07")],
)
def test_format_duration(seconds, text):
    assert format_duration(seconds) == text
