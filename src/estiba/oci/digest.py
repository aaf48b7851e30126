"""Content digests, as the OCI image spec defines them (descriptor.md, "Digests"), and
the ChainID of a layer stack (config.md, "Layer ChainID").

A digest names bytes: ``algorithm ":" encoded``. Vocabulary, as the spec uses it: a
layer's ``digest`` is over the bytes stored (often compressed); its ``diff_id`` is over
the uncompressed tar; a ``chain_id`` names the stack of layers up to and including one.

No regular expressions here: the grammar is small and this module is imported by code
on start-up paths. ``hashlib`` is imported only when something is hashed.
"""

from __future__ import annotations

from estiba.errors import InvalidArgument
from estiba.oci.record import Record

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable

# Registered algorithms -> length of the lower-case hex encoding.
_HEX_LENGTHS = {"sha256": 64, "sha512": 128}
_HEX = frozenset("0123456789abcdef")
_ALGORITHM_COMPONENT = frozenset("abcdefghijklmnopqrstuvwxyz0123456789")
_ALGORITHM_SEPARATORS = frozenset("+._-")
_ENCODED = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789=_-")


class Digest(Record):
    algorithm: str
    hex: str

    def __str__(self) -> str:
        return f"{self.algorithm}:{self.hex}"

    @classmethod
    def parse(cls, text: str) -> Digest:
        """Parse ``algorithm:encoded``; only the registered algorithms (sha256, sha512)
        are accepted, with their lower-case hex encodings of the right length."""
        return parse(text)


def parse(text: str) -> Digest:
    """Parse and validate a digest string; raise ``InvalidArgument`` naming it."""
    if not isinstance(text, str):
        raise InvalidArgument(f"invalid digest {text!r}: expected a string")
    algorithm, sep, encoded = text.partition(":")
    if not sep:
        raise InvalidArgument(f"invalid digest {text!r}: missing the algorithm prefix")
    if not _valid_algorithm(algorithm):
        raise InvalidArgument(f"invalid digest {text!r}: malformed algorithm {algorithm!r}")
    if not encoded or not _ENCODED.issuperset(encoded):
        raise InvalidArgument(f"invalid digest {text!r}: malformed encoded part")
    length = _HEX_LENGTHS.get(algorithm)
    if length is None:
        raise InvalidArgument(f"invalid digest {text!r}: unsupported algorithm {algorithm!r}")
    if len(encoded) != length or not _HEX.issuperset(encoded):
        raise InvalidArgument(
            f"invalid digest {text!r}: {algorithm} needs {length} lower-case hex digits"
        )
    return Digest(algorithm=algorithm, hex=encoded)


def _valid_algorithm(algorithm: str) -> bool:
    # algorithm ::= component (separator component)*; component ::= [a-z0-9]+
    component = 0
    for ch in algorithm:
        if ch in _ALGORITHM_COMPONENT:
            component += 1
        elif ch in _ALGORITHM_SEPARATORS and component:
            component = 0
        else:
            return False
    return component > 0


def of_bytes(data: bytes, algorithm: str = "sha256") -> Digest:
    """The digest of ``data`` (sha256 unless told otherwise)."""
    hasher = Verifier(algorithm)
    hasher.update(data)
    return hasher.digest()


class Verifier:
    """Incremental hashing of a stream, for blobs too big to hold: feed ``update``,
    then read ``digest()`` or check against the expected one with ``verify``."""

    __slots__ = ("_algorithm", "_hash")

    def __init__(self, algorithm: str = "sha256") -> None:
        if algorithm not in _HEX_LENGTHS:
            raise InvalidArgument(f"unsupported digest algorithm {algorithm!r}")
        import hashlib

        self._algorithm = algorithm
        self._hash = hashlib.new(algorithm)

    @classmethod
    def for_digest(cls, expected: Digest) -> Verifier:
        """A verifier using the algorithm of ``expected``."""
        return cls(expected.algorithm)

    def update(self, data: bytes) -> None:
        self._hash.update(data)

    def digest(self) -> Digest:
        """The digest of everything fed so far (more may be fed after)."""
        return Digest(algorithm=self._algorithm, hex=self._hash.hexdigest())

    def verify(self, expected: Digest) -> Digest:
        """Return the digest if it is ``expected``; else raise ``InvalidArgument``."""
        got = self.digest() if expected.algorithm == self._algorithm else None
        if got is None:
            raise InvalidArgument(
                f"digest mismatch: expected {expected}, got a {self._algorithm} digest"
            )
        if got != expected:
            raise InvalidArgument(f"digest mismatch: expected {expected}, got {got}")
        return got


def chain_id(diff_ids: Iterable[Digest]) -> Digest:
    """The ChainID of a layer stack, from its DiffIDs bottom first:
    ChainID(L0) = DiffID(L0); ChainID(L0..n) = sha256(ChainID(L0..n-1) + " " + DiffID(Ln)),
    over the digests' text forms."""
    chain: Digest | None = None
    for diff_id in diff_ids:
        if chain is None:
            chain = diff_id
        else:
            chain = of_bytes(f"{chain} {diff_id}".encode())
    if chain is None:
        raise InvalidArgument("chain id of no layers: at least one diff id is needed")
    return chain


def chain_ids(diff_ids: Iterable[Digest]) -> tuple[Digest, ...]:
    """The ChainID of every prefix of the stack: element i names layers 0..i."""
    chains: list[Digest] = []
    for diff_id in diff_ids:
        chains.append(chain_id((chains[-1], diff_id)) if chains else diff_id)
    return tuple(chains)
