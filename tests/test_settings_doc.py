"""`python -m exos.settings_doc --write`: which file gets the table, and that only the part
between the markers changes."""

from __future__ import annotations

from pathlib import Path

import pytest
from markdown_it import MarkdownIt

from exos import settings_doc
from exos.settings_doc import BEGIN, END, OLD_BEGIN, main, render_table

STALE = f"# Configuration\n\nintro\n\n{BEGIN}\n| old | table |\n{END}\n\nafter\n"


def _expected(table: str) -> str:
    return f"# Configuration\n\nintro\n\n{BEGIN}\n\n{table}\n\n{END}\n\nafter\n"


def test_write_without_a_file_updates_docs_configuration(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "docs").mkdir()
    page = tmp_path / "docs" / "configuration.md"
    page.write_text(STALE)
    monkeypatch.setattr(settings_doc, "REPO", tmp_path)
    main(["--write"])
    assert page.read_text() == _expected(render_table())


def test_the_default_target_is_the_repositorys_configuration_page() -> None:
    repo = Path(__file__).resolve().parents[1]
    assert repo == settings_doc.REPO
    assert (repo / settings_doc.CONFIGURATION_DOC).read_text().count(BEGIN) == 1


def test_write_readme_without_markers_goes_to_docs_configuration(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    readme = tmp_path / "README.md"
    readme.write_text("# EXOS\n\nNo table here any more.\n")
    (tmp_path / "docs").mkdir()
    page = tmp_path / "docs" / "configuration.md"
    page.write_text(STALE)
    main(["--write", str(readme)])
    assert readme.read_text() == "# EXOS\n\nNo table here any more.\n"
    assert page.read_text() == _expected(render_table())
    assert "docs/configuration.md" in capsys.readouterr().err


def test_write_readme_with_the_old_comment_markers_goes_to_docs_configuration(
    tmp_path: Path,
) -> None:
    readme = tmp_path / "README.md"
    old = f"# EXOS\n\n{OLD_BEGIN}\n| old | table |\n<!-- settings-table:end -->\n"
    readme.write_text(old)
    (tmp_path / "docs").mkdir()
    page = tmp_path / "docs" / "configuration.md"
    page.write_text(STALE)
    main(["--write", str(readme)])
    assert readme.read_text() == old
    assert page.read_text() == _expected(render_table())


def test_the_markers_and_the_table_render_as_the_table_alone() -> None:
    """On the portal's Docs page (markdown-it, raw HTML shown as text) and on GitHub the
    markers are link-reference definitions: nothing of them shows, the table stays whole."""
    page = _expected("| variable | default |\n|---|---|\n| `EXOS_X` | `1` |")
    html = MarkdownIt("commonmark", {"html": False}).enable("table").render(page)
    assert "settings-table" not in html
    assert html.count("<tr>") == 2  # the header and the one row; no marker as a row
    assert "<p>after</p>" in html


def test_write_readme_that_still_has_the_table_updates_it_in_place(tmp_path: Path) -> None:
    readme = tmp_path / "README.md"
    readme.write_text(STALE)
    main(["--write", str(readme)])
    assert readme.read_text() == _expected(render_table())
    assert not (tmp_path / "docs").exists()


def test_a_file_without_markers_is_refused_unchanged(tmp_path: Path) -> None:
    other = tmp_path / "notes.md"
    other.write_text("no markers\n")
    with pytest.raises(ValueError):
        main(["--write", str(other)])
    assert other.read_text() == "no markers\n"


def test_print_without_write(capsys: pytest.CaptureFixture[str]) -> None:
    main([])
    assert capsys.readouterr().out == render_table() + "\n"
