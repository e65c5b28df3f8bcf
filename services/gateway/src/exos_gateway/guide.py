"""The Docs page: the repository's markdown documents (`docs/*.md`), rendered on the
server with markdown-it-py. A document's slug is its file name without the order prefix
(`01-architecture.md` -> `architecture`), its title its first `# ` heading."""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from pathlib import Path

from markdown_it import MarkdownIt

_ORDER_PREFIX = re.compile(r"^\d+[-_]")


@dataclass(frozen=True, slots=True)
class Document:
    slug: str
    title: str
    summary: str
    path: Path


def _title_and_summary(text: str, fallback: str) -> tuple[str, str]:
    """The first `# ` heading, and the first sentence of the first paragraph."""
    title = fallback
    paragraph: list[str] = []
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("# ") and title == fallback and not paragraph:
            title = stripped[2:].strip()
        elif paragraph and not stripped:
            break
        elif stripped and not stripped.startswith(("#", "|", "```", "-", ">")):
            paragraph.append(stripped)
    joined = " ".join(paragraph)
    sentence = re.match(r"(.+?\.)(\s|$)", joined)
    return title, sentence.group(1) if sentence else joined


class Guide:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        # Raw HTML in the markdown is shown as text: documents are trusted, but nothing
        # needs it, and it keeps the page free of stray scripts.
        self.markdown = MarkdownIt("commonmark", {"html": False}).enable("table")

    def documents(self) -> list[Document]:
        if not self.folder.is_dir():
            return []
        found = []
        for path in sorted(self.folder.glob("*.md")):
            slug = _ORDER_PREFIX.sub("", path.stem)
            title, summary = _title_and_summary(path.read_text(), slug)
            found.append(Document(slug, title, summary, path))
        return found

    def index_html(self) -> str:
        documents = self.documents()
        if not documents:
            return (
                '<h1>Docs</h1><p class="state" data-state="empty">No documents in '
                f"{html.escape(str(self.folder))}.</p>"
            )
        items = "".join(
            f'<li><a href="/guide/{d.slug}">{html.escape(d.title)}</a>'
            f"<p>{self.markdown.renderInline(d.summary)}</p></li>"
            for d in documents
        )
        return f'<h1>Docs</h1><ul class="doc-list">{items}</ul>'

    def document_html(self, slug: str) -> tuple[str, str] | None:
        documents = self.documents()
        chosen = next((d for d in documents if d.slug == slug), None)
        if chosen is None:
            return None
        nav = "".join(
            f'<li><a href="/guide/{d.slug}"'
            + (' aria-current="page"' if d.slug == slug else "")
            + f">{html.escape(d.title)}</a></li>"
            for d in documents
        )
        body = self.markdown.render(chosen.path.read_text())
        return chosen.title, (
            f'<div class="guide"><nav class="guide-nav" aria-label="Documents"><ul>{nav}</ul>'
            f'</nav><article class="doc">{body}</article></div>'
        )
