"""A protocol lives in one place: its name appears in no source file outside its package and the registry.

Everything else (submission, finalize, comparisons, leaderboards, client, CLI, web pages) reads the
protocol's declarations from the registry, so adding a protocol is its package plus one registry line.
The check reads every Python string and comment and every line of the web pages' scripts and styles.
"""

from __future__ import annotations

import io
import re
import tokenize
from pathlib import Path

import pytest

from service.core.protocol import protocol_names
from service.core.protocols import PACKAGES

REPO = Path(__file__).resolve().parents[3]
SOURCE_ROOTS = ("service", "workers")
REGISTRY = REPO / "service" / "core" / "protocols" / "__init__.py"
TEXT_SUFFIXES = (".js", ".css", ".html")
FIELD = re.compile(r"(?<!\{)\{[^{}]*\}")  # a replacement field of an f-string: code, not text


def word(name: str) -> re.Pattern[str]:
    """``name`` as a whole word of prose or a value: not part of a longer identifier (``rating`` in
    ``anchor_rating`` is not it) and not an attribute or key being set (HTML's ``href="…"``)."""
    return re.compile(rf"(?<![A-Za-z0-9_]){re.escape(name)}(?![A-Za-z0-9_])(?!=)")


def quoted(name: str) -> re.Pattern[str]:
    """``name`` as a string value in a script or a style sheet (``"href"``, not the ``href:`` key of a link)."""
    return re.compile(rf"""(["'`]){re.escape(name)}\1""")


def python_texts(source: str) -> list[tuple[int, str]]:
    """(line, text) of every string literal and comment of a Python file (code names are not texts)."""
    texts = []
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type == tokenize.STRING:
            is_f_string = "f" in token.string[:token.string.index(token.string[-1])].lower()
            texts.append((token.start[0], FIELD.sub("", token.string) if is_f_string else token.string))
        elif token.type == tokenize.COMMENT or token.type == getattr(tokenize, "FSTRING_MIDDLE", -1):
            texts.append((token.start[0], token.string))
    return texts


# phrases that use a protocol's name as an ordinary word: the rating-vs-ranking analysis (Peering Through
# Preferences) is named after ratings and rankings in general, whatever protocols produce them
ORDINARY = re.compile(r"rating[- ]vs[- ]ranking", re.IGNORECASE)


def mentions(path: Path, name: str) -> list[str]:
    """Where ``path`` names the protocol ``name``: ``file:line: text``."""
    source = ORDINARY.sub("", path.read_text(encoding="utf-8"))
    if path.suffix == ".py":
        pattern, texts = word(name), python_texts(source)
    else:
        pattern, texts = quoted(name), list(enumerate(source.splitlines(), start=1))
    return [f"{path.relative_to(REPO)}:{line}: …{_around(text, found)}…" for line, text in texts
            if (found := pattern.search(text))]


def _around(text: str, found: re.Match[str]) -> str:
    return " ".join(text[max(0, found.start() - 40):found.end() + 40].split())


def own_package(name: str) -> Path:
    package = next(p for p in PACKAGES if p.rsplit(".", 1)[-1] == name)
    return REPO.joinpath(*package.split("."))


def source_files() -> list[Path]:
    files = []
    for root in SOURCE_ROOTS:
        files += [p for p in (REPO / root).rglob("*") if p.suffix in (".py", *TEXT_SUFFIXES)]
    return sorted(files)


@pytest.mark.parametrize("name", protocol_names())
def test_a_protocols_name_appears_only_in_its_package_and_the_registry(name):
    package = own_package(name)
    found = [m for path in source_files() if path != REGISTRY and package not in path.parents
             for m in mentions(path, name)]
    assert not found, f"{name!r} is named outside its package and the registry:\n" + "\n".join(found)


@pytest.mark.parametrize(("source", "suffix", "expected"), [
    ('x = "pairwise"\n', ".py", 1),                         # a string literal
    ("# judge pairwise items\nx = 1\n", ".py", 1),          # a comment
    ('x = f"{a} pairwise"\n', ".py", 1),                    # an f-string
    ("from a.pairwise import b\nanchor_rating = 1\n", ".py", 0),  # code names are not texts
    ('x = f\'<a href="{link}">\'\n', ".py", 0),               # an HTML attribute
    ('x = f\'<a href="{href}">\'\n', ".py", 0),               # a variable in an f-string
    ('const TWO = new Set(["pairwise", "href"]);\n', ".js", 2),
    ("if (protocol === 'rating') go();\n", ".js", 1),
    ("const anchor_rating = 1; el('a', { href: link });\n", ".js", 0),
    ('x = "/v1/analyses/rating-vs-ranking"  # Rating vs ranking\n', ".py", 0),  # the analysis' name
    ('x = "rating evaluations vs ranking"\n', ".py", 1),                          # the protocol
])
def test_the_check_finds_a_name_in_texts_and_scripts(tmp_path, source, suffix, expected):
    path = REPO / "tests" / f"_boundary_probe{suffix}"  # inside the repository, as the check reports paths
    path.write_text(source, encoding="utf-8")
    try:
        assert len(mentions(path, "pairwise") + mentions(path, "rating") + mentions(path, "href")) == expected
    finally:
        path.unlink()
