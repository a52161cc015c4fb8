"""Keeping the benchmarks page current: the latest report goes between two markers."""

from __future__ import annotations

from pathlib import Path

import click

BEGIN = "<!-- bench.speed report: begin -->"
END = "<!-- bench.speed report: end -->"


def replace_report(page: Path, report: str) -> None:
    """Put ``report`` between the page's markers, leaving the rest of the page as it is.

    Raises click.ClickException naming the page when it lacks the markers, so that no
    hand-written text is ever overwritten.
    """
    text = page.read_text(encoding="utf-8")
    start, end = text.find(BEGIN), text.find(END)
    if start < 0 or end < start:
        raise click.ClickException(
            f"{page} has no report section; add a line {BEGIN!r} and, below it, a line "
            f"{END!r} where the report should go")
    page.write_text(text[:start + len(BEGIN)] + "\n\n" + report.strip() + "\n\n" + text[end:],
                    encoding="utf-8")
