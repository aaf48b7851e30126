"""Digests and ChainIDs (OCI image spec descriptor.md and config.md)."""

from __future__ import annotations

import hashlib

import pytest

from estiba.errors import InvalidArgument
from estiba.oci import digest
from estiba.oci.digest import Digest, Verifier, chain_id, chain_ids, of_bytes

HEX256 = "a" * 64
HEX512 = "0123456789abcdef" * 8


def test_parse_sha256_and_sha512() -> None:
    d = Digest.parse(f"sha256:{HEX256}")
    assert d == Digest(algorithm="sha256", hex=HEX256)
    assert str(d) == f"sha256:{HEX256}"
    assert str(digest.parse(f"sha512:{HEX512}")) == f"sha512:{HEX512}"


@pytest.mark.parametrize(
    "text",
    [
        "",
        HEX256,  # no algorithm
        f":{HEX256}",
        "sha256:",
        f"sha256:{HEX256[:-1]}",  # 63 digits
        f"sha256:{HEX256}a",  # 65 digits
        f"sha256:{HEX256.upper()}",  # upper case
        f"sha256:{'g' * 64}",
        f"sha512:{HEX256}",  # too short for sha512
        f"SHA256:{HEX256}",
        f"sha256+:{HEX256}",  # separator with no component after it
        f"+sha256:{HEX256}",
        f"sha256:{HEX256[:-1]}!",
        f"md5:{'a' * 32}",  # well formed, but not a registered algorithm
        f"multihash+base58:{'Q' * 46}",
    ],
)
def test_parse_rejects(text: str) -> None:
    with pytest.raises(InvalidArgument) as info:
        Digest.parse(text)
    assert repr(text) in str(info.value)
    assert str(info.value).startswith("invalid digest")


def test_parse_rejects_non_string() -> None:
    with pytest.raises(InvalidArgument):
        digest.parse(None)  # type: ignore[arg-type]


def test_grammar_accepts_separated_algorithms_before_the_registry_check() -> None:
    # "sha256+b64u" is grammatical; it fails as unsupported, not as malformed.
    with pytest.raises(InvalidArgument, match="unsupported algorithm"):
        Digest.parse("sha256+b64u:LCa0a2j_xo_5m0U8HTBBNBNCLXBkg7-g-YpeiGJm564")


def test_of_bytes_known_vectors() -> None:
    assert str(of_bytes(b"")) == (
        "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    )
    assert of_bytes(b"abc", "sha512").hex == hashlib.sha512(b"abc").hexdigest()


def test_verifier_incremental() -> None:
    v = Verifier()
    v.update(b"hello ")
    v.update(b"world")
    expected = Digest(algorithm="sha256", hex=hashlib.sha256(b"hello world").hexdigest())
    assert v.digest() == expected
    assert v.verify(expected) == expected
    assert Verifier.for_digest(expected).digest() == of_bytes(b"")


def test_verifier_mismatch_names_both() -> None:
    v = Verifier()
    v.update(b"x")
    wrong = Digest(algorithm="sha256", hex=HEX256)
    with pytest.raises(InvalidArgument) as info:
        v.verify(wrong)
    assert str(info.value) == f"digest mismatch: expected {wrong}, got {of_bytes(b'x')}"


def test_verifier_algorithm_mismatch() -> None:
    v = Verifier("sha256")
    with pytest.raises(InvalidArgument, match="digest mismatch"):
        v.verify(Digest(algorithm="sha512", hex=HEX512))


def test_verifier_unknown_algorithm() -> None:
    with pytest.raises(InvalidArgument, match="unsupported digest algorithm 'md5'"):
        Verifier("md5")


def _sha(text: str) -> str:
    return "sha256:" + hashlib.sha256(text.encode("ascii")).hexdigest()


def test_chain_id_known_vectors() -> None:
    a = "sha256:" + hashlib.sha256(b"layer a").hexdigest()
    b = "sha256:" + hashlib.sha256(b"layer b").hexdigest()
    c = "sha256:" + hashlib.sha256(b"layer c").hexdigest()
    diff_ids = [Digest.parse(x) for x in (a, b, c)]
    ab = _sha(f"{a} {b}")
    abc = _sha(f"{ab} {c}")
    assert str(chain_id(diff_ids[:1])) == a
    assert str(chain_id(diff_ids[:2])) == ab
    assert str(chain_id(diff_ids)) == abc
    assert [str(x) for x in chain_ids(diff_ids)] == [a, ab, abc]


def test_chain_id_of_one_layer_is_its_diff_id() -> None:
    d = Digest(algorithm="sha256", hex=HEX256)
    assert chain_id([d]) is d


def test_chain_id_of_nothing() -> None:
    with pytest.raises(InvalidArgument):
        chain_id([])
    assert chain_ids([]) == ()


def test_digest_is_an_immutable_hashable_record() -> None:
    d = Digest(algorithm="sha256", hex=HEX256)
    with pytest.raises(AttributeError):
        d.hex = "b"  # type: ignore[misc]
    assert {d: 1}[Digest.parse(str(d))] == 1
