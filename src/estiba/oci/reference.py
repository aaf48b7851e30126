"""Image references as Docker writes them (``busybox``, ``user/app:1.0``,
``localhost:5000/a/b@sha256:...``), parsed and normalised the way Docker does.

Grammar: distribution/reference (``reference.go``, ``normalize.go``), which the docker CLI,
dockerd and containerd share::

    reference  := name [ ":" tag ] [ "@" digest ]
    name       := [ domain "/" ] path-component ( "/" path-component )*
    domain     := host [ ":" port ]        host: dns labels joined by ".", or "[" ipv6 "]"
    path-component := [a-z0-9]+ ( separator [a-z0-9]+ )*
    separator  := "." | "_" | "__" | "-"+
    tag        := [\\w][\\w.-]{0,127}

Normalisation (``ParseNormalizedNamed``): the first component is a domain only if it
holds a "." or ":" or is "localhost" (an upper-case first component counts as a domain
too, as Docker has it); otherwise the domain is ``docker.io``, and a one-component path
on ``docker.io`` gets ``library/``. ``index.docker.io`` is ``docker.io``. A reference
with neither tag nor digest gets the tag ``latest`` (``TagNameOnly``).

Regular expressions are used here; ``re`` is imported on first parse, and its own cache
keeps the compiled patterns.
"""

from __future__ import annotations

from estiba.errors import InvalidArgument
from estiba.oci import digest as _digest
from estiba.oci.record import Record

TYPE_CHECKING = False
if TYPE_CHECKING:
    from estiba.oci.digest import Digest

DEFAULT_DOMAIN = "docker.io"
LEGACY_DEFAULT_DOMAIN = "index.docker.io"
OFFICIAL_REPOSITORY_PREFIX = "library/"
DEFAULT_TAG = "latest"
NAME_TOTAL_LENGTH_MAX = 255

PATH_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
DOMAIN_PATTERN = (
    rf"(?:{DOMAIN_COMPONENT}(?:\.{DOMAIN_COMPONENT})*|\[[a-fA-F0-9:]+\])(?::[0-9]+)?"
)
TAG_PATTERN = r"[\w][\w.-]{0,127}"
_HEX64 = r"[a-f0-9]{64}"


class Reference(Record):
    domain: str
    path: str
    tag: str = ""
    digest: Digest | None = None

    @classmethod
    def parse(cls, text: str, default_tag: str = DEFAULT_TAG) -> Reference:
        return parse(text, default_tag)

    @property
    def name(self) -> str:
        """The repository's full name: ``domain/path``."""
        return f"{self.domain}/{self.path}"

    def familiar_name(self) -> str:
        """The name as Docker shows it: ``docker.io/`` and ``library/`` dropped."""
        if self.domain != DEFAULT_DOMAIN:
            return self.name
        rest = self.path[len(OFFICIAL_REPOSITORY_PREFIX):]
        if self.path.startswith(OFFICIAL_REPOSITORY_PREFIX) and "/" not in rest:
            return rest
        return self.path

    def familiar(self) -> str:
        """Docker's short form: ``busybox:latest``, ``user/app:1.0``,
        ``localhost:5000/a/b@sha256:...``."""
        return self.familiar_name() + self._suffix()

    def _suffix(self) -> str:
        tag = f":{self.tag}" if self.tag else ""
        return f"{tag}@{self.digest}" if self.digest is not None else tag

    def __str__(self) -> str:
        return self.name + self._suffix()


def parse(text: str, default_tag: str = DEFAULT_TAG) -> Reference:
    """Parse and normalise a reference as Docker does; ``default_tag`` (``latest``;
    ``""`` for none) is given to a reference with neither tag nor digest. Raise
    ``InvalidArgument`` saying what is wrong."""
    import re

    if not isinstance(text, str) or not text:
        raise InvalidArgument(f"invalid reference format: empty reference ({text!r})")
    if re.fullmatch(_HEX64, text):
        raise InvalidArgument(
            f"invalid repository name ({text}), cannot specify 64-byte hexadecimal strings"
        )
    name_tag, at, digest_text = text.partition("@")
    domain, remainder = split_domain(name_tag)
    path, colon, tag = remainder.partition(":")
    if path.lower() != path:
        raise InvalidArgument("invalid reference format: repository name must be lowercase")
    if not path:
        raise InvalidArgument(
            f"invalid reference format: repository name must have at least one component "
            f"({text!r})"
        )
    for component in path.split("/"):
        if not re.fullmatch(PATH_COMPONENT, component):
            raise InvalidArgument(
                f"invalid reference format: bad path component {component!r} ({text!r})"
            )
    if not re.fullmatch(DOMAIN_PATTERN, domain):
        raise InvalidArgument(f"invalid reference format: bad domain {domain!r} ({text!r})")
    if colon and not re.fullmatch(TAG_PATTERN, tag, re.ASCII):
        raise InvalidArgument(f"invalid reference format: bad tag {tag!r} ({text!r})")
    if len(domain) + 1 + len(path) > NAME_TOTAL_LENGTH_MAX:
        raise InvalidArgument(
            f"invalid reference format: repository name must not be more than "
            f"{NAME_TOTAL_LENGTH_MAX} characters ({text!r})"
        )
    digest = None
    if at:
        try:
            digest = _digest.parse(digest_text)
        except InvalidArgument as err:
            raise InvalidArgument(f"invalid reference format: {err} ({text!r})") from err
    if not colon and digest is None:
        tag = default_tag
    return Reference(domain=domain, path=path, tag=tag, digest=digest)


def split_domain(name: str) -> tuple[str, str]:
    # splitDockerDomain in distribution/reference normalize.go (the CLI's checks use it too)
    first, slash, rest = name.partition("/")
    if (
        not slash
        or ("." not in first and ":" not in first and first != "localhost"
            and first.lower() == first)
    ):
        domain, rest = DEFAULT_DOMAIN, name
    else:
        domain = first
    if domain == LEGACY_DEFAULT_DOMAIN:
        domain = DEFAULT_DOMAIN
    if domain == DEFAULT_DOMAIN and "/" not in rest:
        rest = OFFICIAL_REPOSITORY_PREFIX + rest
    return domain, rest
