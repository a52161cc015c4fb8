"""The benchmark writes its report into the benchmarks page without touching the rest."""

from __future__ import annotations

from pathlib import Path

import click
import pytest

from bench.docs_page import BEGIN, END, replace_report


def test_the_report_replaces_only_the_section_between_the_markers(tmp_path: Path) -> None:
    # Given a page with hand-written text around an old report
    page = tmp_path / "benchmarks.md"
    page.write_text(f"# Benchmarks\nWhy.\n{BEGIN}\nold numbers\n{END}\nMore.\n",
                    encoding="utf-8")

    # When a new report is put in
    replace_report(page, "| new | numbers |\n")

    # Then the old numbers are gone and every hand-written line is still there
    assert page.read_text(encoding="utf-8") == (
        f"# Benchmarks\nWhy.\n{BEGIN}\n\n| new | numbers |\n\n{END}\nMore.\n")


def test_a_page_without_the_markers_is_refused_and_left_as_it_was(tmp_path: Path) -> None:
    # Given a page with no report section
    page = tmp_path / "benchmarks.md"
    page.write_text("# Benchmarks\nHand-written.\n", encoding="utf-8")

    # When a report is put in, then it is refused, naming the page and the markers
    with pytest.raises(click.ClickException, match=r"benchmarks\.md has no report section"):
        replace_report(page, "numbers")
    assert page.read_text(encoding="utf-8") == "# Benchmarks\nHand-written.\n"
