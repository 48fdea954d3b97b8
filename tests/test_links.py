"""Every Markdown link of README.md and docs/ resolves inside the repository: the file exists, and so does the anchor."""

import os
import re
import unicodedata

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DOCS = os.path.join(ROOT, "docs")

LINK = re.compile(r"!?\[(?:[^\]\[]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
FENCE = re.compile(r"^(```|~~~).*?^\1", re.S | re.M)
CODE = re.compile(r"`[^`\n]*`")
HEADING = re.compile(r"^#{1,6}\s+(.*?)\s*#*\s*$", re.M)


def markdown_files():
    files = [os.path.join(ROOT, "README.md")] if os.path.exists(os.path.join(ROOT, "README.md")) else []
    for dirpath, _, names in os.walk(DOCS):
        files += [os.path.join(dirpath, n) for n in sorted(names) if n.endswith(".md")]
    return files


def prose(text):
    """The text without fenced code blocks and inline code, where link syntax means nothing."""
    return CODE.sub("", FENCE.sub("", text))


def slugs(heading):
    """Anchors a heading may have: MkDocs' (python-markdown toc) and GitHub's."""
    heading = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading).replace("`", "")
    ascii_ = unicodedata.normalize("NFKD", heading).encode("ascii", "ignore").decode()
    mkdocs = re.sub(r"[-\s]+", "-", re.sub(r"[^\w\s-]", "", ascii_).strip().lower())
    github = re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")
    return {mkdocs, github}


def anchors(path):
    with open(path, encoding="utf-8") as fh:
        text = FENCE.sub("", fh.read())
    out = set()
    for h in HEADING.findall(text):
        out |= slugs(h)
    return out


def links():
    for path in markdown_files():
        with open(path, encoding="utf-8") as fh:
            text = prose(fh.read())
        for target in LINK.findall(text):
            yield os.path.relpath(path, ROOT), target


LINKS = list(links())


def generated_pages():
    """Pages the mkdocs hook writes at build time (the gallery), which exist only in the built site."""
    from gahb.experiments.figures._gallery import gallery_pages

    return {os.path.normpath(os.path.join(DOCS, p)) for p in gallery_pages(os.path.join(DOCS, "gallery"))}


GENERATED = generated_pages()


def test_links_found():
    assert len(LINKS) > 20  # the figures and cross-references of the docs


@pytest.mark.parametrize("source, target", LINKS, ids=[f"{s}->{t}" for s, t in LINKS])
def test_link_resolves(source, target):
    if re.match(r"^[a-z][a-z0-9+.-]*:", target):  # http:, https:, mailto:: outside the repository by design
        pytest.skip("external link")
    path, _, anchor = target.partition("#")
    here = os.path.dirname(os.path.join(ROOT, source))
    resolved = os.path.normpath(os.path.join(here, path)) if path else os.path.join(ROOT, source)
    assert os.path.commonpath([resolved, ROOT]) == ROOT, f"{source}: {target} points outside the repository"
    assert os.path.exists(resolved) or resolved in GENERATED, f"{source}: {target} does not exist"
    if anchor and resolved.endswith(".md"):
        assert anchor in anchors(resolved), f"{source}: no heading with anchor #{anchor} in {os.path.relpath(resolved, ROOT)}"


def test_the_checker_catches_a_broken_anchor():
    assert "prototype-measurements-before-gahb" in slugs("Prototype measurements (before gahb)")
    assert "memorization-generalization" in slugs("Memorization → generalization")
    assert LINK.findall("see [a](b.md#c) and ![img](img/x.png) but not `[x](y)`") == ["b.md#c", "img/x.png", "y"]
    assert LINK.findall(prose("see `[x](y)`")) == []
