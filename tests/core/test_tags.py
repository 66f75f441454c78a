"""Tag filters and assignments as the API, the client and the CLI read them."""

from __future__ import annotations

import pytest

from service.core.tags import TagFilter, parse_assignment, parse_filter, parse_filters, select


@pytest.mark.parametrize(("text", "expected"), [
    ("branch=main", TagFilter("branch", "main")),
    ("release", TagFilter("release")),
    ("release=*", TagFilter("release")),
    ("branch=feature/x=y", TagFilter("branch", "feature/x=y")),  # the value is everything after the first =
    ("pr=", TagFilter("pr", "")),
    ("ci.job:id=7", TagFilter("ci.job:id", "7")),
])
def test_filters_parse(text, expected):
    assert parse_filter(text) == expected


@pytest.mark.parametrize("text", ["", "=main", "bad key=x", "-lead=x", "k=a\nb", "k=" + "x" * 257, "k" * 65])
def test_bad_filters_say_why(text):
    with pytest.raises(ValueError):
        parse_filter(text)


def test_too_many_filters_and_the_bad_one_is_named():
    with pytest.raises(ValueError, match="at most 8"):
        parse_filters([f"k{i}" for i in range(9)])
    with pytest.raises(ValueError, match="'bad key=x'"):
        parse_filters(["ok", "bad key=x"])


@pytest.mark.parametrize(("tags", "filters", "selected"), [
    ({"branch": "main"}, ["branch=main"], True),
    ({"branch": "main"}, ["branch=dev"], False),
    ({"branch": "main"}, ["branch"], True),
    ({}, ["branch"], False),
    ({"branch": "main", "release": "2"}, ["branch=main", "release=*"], True),
    ({"branch": "main"}, ["branch=main", "release"], False),
    ({}, [], True),
])
def test_select_needs_every_filter(tags, filters, selected):
    assert select(tags, parse_filters(filters)) is selected


@pytest.mark.parametrize(("text", "expected"), [("commit=abc", ("commit", "abc")), ("empty=", ("empty", ""))])
def test_assignments(text, expected):
    assert parse_assignment(text) == expected


@pytest.mark.parametrize("text", ["commit", "bad key=1", "k=a\x00b"])
def test_bad_assignments(text):
    with pytest.raises(ValueError):
        parse_assignment(text)
