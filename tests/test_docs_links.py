"""The README is the front door and docs/ the reference: every relative link in them
(and in the chart's and the benchmarks' READMEs) points at a file that exists, and the
README stays short, leading with the two quick-start commands."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = sorted(
    [
        ROOT / "README.md",
        ROOT / "bench/README.md",
        ROOT / "deploy/helm/exos/README.md",
        *ROOT.glob("docs/*.md"),
        *ROOT.glob("docs/adr/*.md"),
    ]
)
LINK = re.compile(r"\]\(([^)\s]+)\)")
# Pages written in parallel work on other parts of the platform; linked ahead of them.
WRITTEN_ELSEWHERE = {ROOT / "bench/RESULTS.md", ROOT / "docs/performance.md"}


def relative_links(page: Path) -> list[str]:
    text = re.sub(r"```.*?```", "", page.read_text(), flags=re.DOTALL)  # code is not links
    return [
        link
        for link in LINK.findall(text)
        if not re.match(r"^[a-z]+:", link) and not link.startswith("#")
    ]


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_point_at_files_that_exist(page: Path) -> None:
    broken = []
    for link in relative_links(page):
        target = (page.parent / link.split("#", 1)[0]).resolve()
        if not target.exists() and target not in WRITTEN_ELSEWHERE:
            broken.append(link)
    assert not broken, f"{page.relative_to(ROOT)}: {broken}"


def test_the_link_finder_sees_links_and_skips_urls_and_code(tmp_path: Path) -> None:
    page = tmp_path / "p.md"
    page.write_text(
        "[a](docs/a.md) [b](https://x.org) [c](#top) [d](../d.md#part)\n"
        "```\n[e](not/a/link.md)\n```\n"
    )
    assert relative_links(page) == ["docs/a.md", "../d.md#part"]


def test_the_readme_is_a_front_door() -> None:
    readme = (ROOT / "README.md").read_text()
    assert len(readme.splitlines()) <= 150
    commands = re.search(r"## Quick start.*?```bash\n(.*?)```", readme, re.DOTALL)
    assert commands is not None
    assert [line.split("#")[0].strip() for line in commands.group(1).splitlines()] == [
        "make up",
        "make test",
    ]
    for page in ("docs/configuration.md", "docs/adr/", "bench/README.md"):
        assert f"]({page})" in readme, page


def test_every_decision_record_has_context_decision_and_consequences() -> None:
    records = sorted(ROOT.glob("docs/adr/[0-9][0-9][0-9][0-9]-*.md"))
    assert len(records) >= 8
    numbers = [int(record.name[:4]) for record in records]
    assert numbers == list(range(1, len(records) + 1)), numbers
    for record in records:
        text = record.read_text()
        assert text.startswith(f"# ADR {record.name[:4]}: "), record.name
        for section in ("## Context", "## Decision", "## Consequences"):
            assert section in text, (record.name, section)
