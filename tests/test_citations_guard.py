"""Comments, docstrings and OpenAPI texts stand on their own: none cites a document that is
not in the repository (the original brief, a conventions or spec file, research notes, an
issue tracker) or uses the README as a specification. They state the rule itself or link a
page under docs/.

Only comments and string literals are read (with `tokenize`), so code such as a variable
named `spec` or a random `seed` is not a citation.
"""

from __future__ import annotations

import io
import re
import tokenize
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SKIPPED_DIRS = {".venv", "node_modules", ".git", "artifacts", "__pycache__"}

# Each pattern names a kind of citation; the words are split so this file does not match.
CITATIONS = {
    "the original brief (the 'seed')": re.compile(
        r"\bseed's\b|\bseed (portal|SQL|quer(y|ies)|taxonomy|tracker|rules?)\b"
        r"|\b(as in|as|in|of|to|shows|follows|from|per) the seed\b(?!\s*(and|,|/|scale))"
        r"|\bthe seed (shows|has|says|names|uses)\b"
        r'|\(seed[,:] |\(seed ["\u201c]|\bseed (table|weights?)\b|\bseed: \d|\bseed/\d',
        re.IGNORECASE,
    ),
    "a conventions file": re.compile(r"\bCONVEN" r"TIONS\b"),
    "a spec file": re.compile(r"\bSP" r"EC\b(?![_(\[])"),
    "the README as a spec": re.compile(r"\bREADME,\s"),
    "research notes": re.compile(r"\bresearch (notes|anchors)\b|\bresearch/", re.IGNORECASE),
    "an issue tracker": re.compile(r"\b(the|an|this) iss" r"ue\b|\biss" r"ue \d+", re.IGNORECASE),
    "a shared architecture document": re.compile(r"\bARCHI" r"TECTURE(\.md)?\b"),
}


# f-strings are split into parts on Python 3.12+; their text is prose too.
PROSE_TOKENS = {tokenize.COMMENT, tokenize.STRING, getattr(tokenize, "FSTRING_MIDDLE", -1)}


def python_files() -> list[Path]:
    found = []
    for path in sorted(ROOT.rglob("*.py")):
        parts = set(path.relative_to(ROOT).parts)
        if parts & SKIPPED_DIRS or path.name == Path(__file__).name:
            continue
        found.append(path)
    return found


def prose(source: str) -> list[tuple[int, str]]:
    """(line, text) of every comment and string literal of a module."""
    found = []
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type in PROSE_TOKENS:
            found.append((token.start[0], token.string))
    return found


def citations(source: str) -> list[tuple[int, str, str]]:
    hits = []
    for line, text in prose(source):
        for kind, pattern in CITATIONS.items():
            match = pattern.search(text)
            if match:
                hits.append((line, kind, match.group(0)))
    return hits


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ('"""Masks the IP as the seed shows (`73.162.x.x`)."""', "the original brief (the 'seed')"),
        ("# The seed's eight OCPM categories", "the original brief (the 'seed')"),
        (
            '"""The activity heatbar (seed "Activity Heatbar")."""',
            "the original brief (the 'seed')",
        ),
        ('description="per bucket (seed weights)"', "the original brief (the 'seed')"),
        ("# HTTP POST dominates (seed: 44%)", "the original brief (the 'seed')"),
        ("x = 1  # commit last (CONVENTIONS, stream processing 1-2)", "a conventions file"),
        ('"""Session rule (README, "Ingest"): keyed by session."""', "the README as a spec"),
        ("# shaped like the SDK's (research notes)", "research notes"),
        ('description="Weights as in SPEC"', "a spec file"),
        ("# targets from issue 3", "an issue tracker"),
    ],
)
def test_a_citation_is_found(source: str, expected: str) -> None:
    assert [kind for _, kind, _ in citations(source)] == [expected]


@pytest.mark.parametrize(
    "source",
    [
        "rng = random.Random(seed)  # deterministic for the plan's seed",
        '"""Generate the world for `seed`/`scale`; the same seed and scale give the same bytes."""',
        "SPEC = create_app().openapi()\nspec = SPEC['paths']",
        "@seed(20261207)\ndef test_x() -> None: ...",
        '"""See docs/pipeline.md for the session rule; README.md has the quick start."""',
        "seed_queries = {}  # the queries of `exos.demo.seed_queries`",
    ],
)
def test_ordinary_words_are_not_citations(source: str) -> None:
    assert citations(source) == []


def test_no_comment_docstring_or_openapi_text_cites_an_outside_document() -> None:
    files = python_files()
    assert len(files) > 300  # the walk found the workspace, not an empty folder
    offenders = [
        f"{path.relative_to(ROOT)}:{line}: {kind}: {text!r}"
        for path in files
        for line, kind, text in citations(path.read_text())
    ]
    assert not offenders, "cite the rule or a docs/ page instead:\n" + "\n".join(offenders)
