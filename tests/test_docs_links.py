"""Every link to a Markdown page of the project, and every section it names, exists.

The pages are read where a user reads them: README.md and docs/*.md (links relative to the page),
and the code's docstrings and comments (seqattn/, bench/, conf/, the entry points), which name pages
as ``docs/<page>.md#<section>`` or ``<page>.md#<section>``. A section is named as GitHub names a
heading: lower case, punctuation other than ``-`` and ``_`` dropped, spaces as ``-``.
"""

import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
CODE = [
    p for folder in ("seqattn", "bench", "conf") for p in (ROOT / folder).rglob("*") if p.suffix in (".py", ".yaml")
]
CODE += sorted(ROOT.glob("*.py"))
LINK = re.compile(r"\]\((?P<page>[\w./-]*\.md)?(?:#(?P<section>[\w-]+))?\)")  # a Markdown link to a page
NAMED = re.compile(r"(?<![\w/.-])(?P<page>(?:docs/)?[\w-]+\.md)(?:#(?P<section>[\w-]+))?")  # a page named in code
HEADING = re.compile(r"^#{1,6} +(.+?) *#*$", re.MULTILINE)


def slug(heading: str) -> str:
    """GitHub's anchor of a heading."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def prose(page: Path) -> str:
    """The page without its fenced code blocks (no headings or links there)."""
    kept, fenced = [], False
    for line in page.read_text().splitlines():
        if line.lstrip().startswith("```"):
            fenced = not fenced
        elif not fenced:
            kept.append(line)
    return "\n".join(kept)


def sections(page: Path) -> set[str]:
    return {slug(h) for h in HEADING.findall(prose(page))}


def broken(source: Path, target: Path, section: str | None) -> str | None:
    where = source.relative_to(ROOT)
    if not target.is_file():
        return f"{where}: {target.relative_to(ROOT) if target.is_relative_to(ROOT) else target} does not exist"
    if section and section not in sections(target):
        return f"{where}: {target.relative_to(ROOT)} has no section #{section}"
    return None


def page_links(page: Path) -> list[str]:
    found = []
    for m in LINK.finditer(prose(page)):
        if m["page"] is None and m["section"] is None:
            continue
        target = (page.parent / m["page"]).resolve() if m["page"] else page
        found.append(broken(page, target, m["section"]))
    return [f for f in found if f]


def code_links(path: Path) -> list[str]:
    found = []
    for m in NAMED.finditer(path.read_text()):
        name = m["page"].removeprefix("docs/")
        target = ROOT / name if name == "README.md" else ROOT / "docs" / name
        if name != "README.md" and not target.exists() and "docs/" not in m["page"]:
            continue  # another project's page (``CHANGELOG.md``), not one of ours
        found.append(broken(path, target, m["section"]))
    return [f for f in found if f]


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_links_between_the_pages_resolve(page):
    assert page_links(page) == []


def test_pages_named_in_the_code_exist_with_their_sections():
    assert [f for path in CODE for f in code_links(path)] == []


def test_a_missing_section_or_page_is_found(tmp_path, monkeypatch):
    monkeypatch.setattr(sys.modules[__name__], "ROOT", tmp_path)
    (tmp_path / "docs").mkdir()
    page = tmp_path / "docs" / "a.md"
    page.write_text("# A page\n\n## The `loss` (pixels)\n\n[ok](#the-loss-pixels) [gone](#nothing) [b](b.md)\n")
    assert page_links(page) == ["docs/a.md: docs/a.md has no section #nothing", "docs/a.md: docs/b.md does not exist"]
