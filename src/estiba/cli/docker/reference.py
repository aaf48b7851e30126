"""Image references checked as the docker CLI checks them before it asks the daemon
(distribution/reference's ``ParseNormalizedNamed`` and ``ParseAnyReference``), with
its error messages, which ``tag``, ``import`` and ``pull`` print as they are.

The grammar's pieces (``reference := name [":" tag] ["@" digest]``), the normalisation
(``busybox`` is ``docker.io/library/busybox``: ``split_domain``) and the lengths are
``estiba.oci.reference``'s; this module adds the Go library's checks in its wording,
which is part of the command line's output. Pure; ``re`` is imported on first use.
"""

from __future__ import annotations

from estiba.oci.reference import (
    DOMAIN_PATTERN,
    NAME_TOTAL_LENGTH_MAX,
    PATH_COMPONENT,
    TAG_PATTERN,
    split_domain,
)

_REMOTE = rf"{PATH_COMPONENT}(?:/{PATH_COMPONENT})*"
_NAME = rf"(?:{DOMAIN_PATTERN}/)?{_REMOTE}"
_DIGEST = r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}"
_REFERENCE = rf"({_NAME})(?::({TAG_PATTERN}))?(?:@({_DIGEST}))?"
_ANCHORED_NAME = rf"(?:({DOMAIN_PATTERN})/)?({_REMOTE})"
_IDENTIFIER = r"[a-f0-9]{64}"
_DIGEST_LENGTHS = {"sha256": 64, "sha384": 96, "sha512": 128}


class BadReference(ValueError):
    """The text is no reference; ``str()`` is the Go library's message."""


class Named:
    """A named reference: its domain and path, its tag and digest (``""``: none)."""

    __slots__ = ("domain", "path", "tag", "digest")

    def __init__(self, domain: str, path: str, tag: str = "", digest: str = "") -> None:
        self.domain = domain
        self.path = path
        self.tag = tag
        self.digest = digest

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Named) and str(self) == str(other)

    def __hash__(self) -> int:
        return hash(str(self))

    def __repr__(self) -> str:
        return f"Named({str(self)!r})"

    @property
    def name(self) -> str:
        """``Name()``: ``docker.io/library/busybox``."""
        return f"{self.domain}/{self.path}"

    @property
    def name_only(self) -> bool:
        return not self.tag and not self.digest

    def __str__(self) -> str:
        tag = f":{self.tag}" if self.tag else ""
        return self.name + tag + (f"@{self.digest}" if self.digest else "")


def check_digest(text: str) -> None:
    """go-digest's ``Parse``: ``BadReference`` unless ``text`` is a digest."""
    import re

    algorithm, colon, encoded = text.partition(":")
    if not algorithm or not colon or not encoded:
        raise BadReference("invalid checksum digest format")
    length = _DIGEST_LENGTHS.get(algorithm)
    if length is None:
        if not re.fullmatch(_DIGEST, text, re.ASCII):
            raise BadReference("invalid checksum digest format")
        raise BadReference("unsupported digest algorithm")
    if len(encoded) != length:
        raise BadReference("invalid checksum digest length")
    if not re.fullmatch(r"[a-f0-9]+", encoded):
        raise BadReference("invalid checksum digest format")


_LOWER_ALNUM = frozenset("abcdefghijklmnopqrstuvwxyz0123456789")
_HEX = frozenset("0123456789abcdef")
_TAG_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-")


def _plain(text: str) -> Named | None:
    """The reference when it is of the everyday kind — components of lower-case letters
    and digits on Docker Hub, a tag maybe (``busybox``, ``library/redis:7.2``) — read
    without ``re`` (~2.5 ms to import, a tenth of a command's start); None otherwise."""
    name, colon, tag = text.partition(":")
    components = name.split("/")
    if not all(c and _LOWER_ALNUM.issuperset(c) for c in components) or len(name) > 200:
        return None
    if colon and not (0 < len(tag) <= 128 and _TAG_CHARS.issuperset(tag)
                      and tag[0] not in ".-"):
        return None
    if len(components[0]) == 64 and len(components) == 1:
        return None  # maybe an image id: the full check says so
    if len(tag) >= 32 and _HEX.issuperset(tag):
        return None  # maybe a digest (sha256:...): the full check says so
    domain, path = split_domain(name)
    return Named(domain, path, tag, "")


def parse_named(text: str) -> Named:
    """``ParseNormalizedNamed``: the reference, normalised; no default tag added."""
    plain = _plain(text)
    return plain if plain is not None else parse_named_fully(text)


def parse_named_fully(text: str) -> Named:
    """``parse_named`` by the grammar, whatever the reference."""
    import re

    if re.fullmatch(_IDENTIFIER, text):
        raise BadReference(f"invalid repository name ({text}), cannot specify 64-byte "
                             "hexadecimal strings")
    domain, remainder = split_domain(text)
    remote = remainder.partition(":")[0]
    if remote.lower() != remote:
        raise BadReference(f"invalid reference format: repository name ({remote}) "
                             "must be lowercase")
    whole = f"{domain}/{remainder}"
    found = re.fullmatch(_REFERENCE, whole, re.ASCII)
    if found is None:
        if re.fullmatch(_REFERENCE, whole.lower(), re.ASCII):
            raise BadReference("repository name must be lowercase")
        raise BadReference("invalid reference format")
    name, tag, digest = found.group(1), found.group(2) or "", found.group(3) or ""
    if len(name) > NAME_TOTAL_LENGTH_MAX:
        raise BadReference(f"repository name must not be more than {NAME_TOTAL_LENGTH_MAX} "
                             "characters")
    parts = re.fullmatch(_ANCHORED_NAME, name, re.ASCII)
    assert parts is not None  # the whole matched the same name pattern
    if digest:
        check_digest(digest)
    return Named(parts.group(1) or "", parts.group(2), tag, digest)


def parse_any(text: str) -> Named | str:
    """``ParseAnyReference``: an image id or digest (returned as ``sha256:...``), else a
    named reference."""
    plain = _plain(text)
    if plain is not None:
        return plain
    import re

    if re.fullmatch(_IDENTIFIER, text):
        return "sha256:" + text
    try:
        check_digest(text)
    except BadReference:
        return parse_named(text)
    return text


def with_default_tag(ref: Named) -> Named:
    """``TagNameOnly``: ``latest`` for a reference with neither tag nor digest."""
    return Named(ref.domain, ref.path, "latest") if ref.name_only else ref
