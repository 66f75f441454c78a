"""Evaluation tags (``branch=main``, ``commit=0123abc``, ``release=2.1``) and the filters that select by them.

A tag is a string key and a string value set at submission. A filter ``key=value`` selects evaluations whose
tag ``key`` has that value; ``key`` or ``key=*`` selects those that have the key at all. The gateway, the
client and the CLI read filters and tags with these functions, so ``tag=branch=main`` means one thing everywhere.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Annotated, Mapping

from pydantic import AfterValidator, Field, StringConstraints, WithJsonSchema

MAX_TAGS = 32
MAX_TAG_FILTERS = 8
KEY_PATTERN = r"^[A-Za-z0-9_][A-Za-z0-9_.:/-]{0,63}$"
MAX_VALUE_LENGTH = 256
ANY_VALUE = "*"
_KEY = re.compile(KEY_PATTERN)
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _printable(value: str) -> str:
    if _CONTROL.search(value):
        raise ValueError("a tag value may not contain control characters (NUL, line breaks, tabs)")
    return value


# validated by check_key (defined below) for a message that says the rule; the schema still shows the pattern
TagKey = Annotated[str, AfterValidator(lambda key: check_key(key)),
                   WithJsonSchema({"type": "string", "pattern": KEY_PATTERN})]
TagValue = Annotated[str, StringConstraints(max_length=MAX_VALUE_LENGTH), AfterValidator(_printable)]
Tags = Annotated[dict[TagKey, TagValue], Field(
    max_length=MAX_TAGS,
    description=f"String tags, e.g. {{\"branch\": \"main\", \"commit\": \"0123abc\"}} (at most {MAX_TAGS}; keys are "
                "letters, digits and _ . : / -, up to 64 characters; values up to 256 characters).")]


@dataclass(frozen=True)
class TagFilter:
    """Select evaluations whose tag ``key`` equals ``value``, or that have the key at all (``value`` None)."""

    key: str
    value: str | None = None

    def __str__(self) -> str:
        return self.key if self.value is None else f"{self.key}={self.value}"

    def matches(self, tags: Mapping[str, str]) -> bool:
        """Whether an evaluation with these tags is selected."""
        return self.key in tags and (self.value is None or tags[self.key] == self.value)


def check_key(key: str) -> str:
    """``key`` when it is a valid tag key; ValueError naming the rule otherwise."""
    if not _KEY.match(key):
        raise ValueError(f"tag key {key!r} must be 1–64 letters, digits or _ . : / - (starting with a letter, digit "
                         "or _)")
    return key


def parse_filter(text: str) -> TagFilter:
    """``key=value`` (that value), ``key`` or ``key=*`` (any value); ValueError with the reason."""
    key, sep, value = text.partition("=")
    check_key(key.strip())
    if not sep or value == ANY_VALUE:
        return TagFilter(key.strip())
    _printable(value)
    if len(value) > MAX_VALUE_LENGTH:
        raise ValueError(f"tag value longer than {MAX_VALUE_LENGTH} characters")
    return TagFilter(key.strip(), value)


def parse_filters(texts: list[str] | None) -> list[TagFilter]:
    """Several filters (all must match); ValueError naming the bad one."""
    texts = texts or []
    if len(texts) > MAX_TAG_FILTERS:
        raise ValueError(f"at most {MAX_TAG_FILTERS} tag filters, got {len(texts)}")
    filters = []
    for text in texts:
        try:
            filters.append(parse_filter(text))
        except ValueError as exc:
            raise ValueError(f"tag filter {text!r}: {exc}") from None
    return filters


def parse_assignment(text: str) -> tuple[str, str]:
    """``key=value`` as a tag to set (the value may be empty); ValueError with the reason."""
    key, sep, value = text.partition("=")
    if not sep:
        raise ValueError(f"tag {text!r}: expected key=value")
    check_key(key.strip())
    _printable(value)
    if len(value) > MAX_VALUE_LENGTH:
        raise ValueError(f"tag {text!r}: value longer than {MAX_VALUE_LENGTH} characters")
    return key.strip(), value


def select(tags: Mapping[str, str], filters: list[TagFilter]) -> bool:
    """Whether tags satisfy every filter (no filter selects everything)."""
    return all(f.matches(tags) for f in filters)
