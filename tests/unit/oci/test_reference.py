"""Docker-style image references, normalised as distribution/reference does."""

from __future__ import annotations

import pytest

from estiba.errors import InvalidArgument
from estiba.oci.digest import Digest
from estiba.oci.reference import Reference, parse

HEX = "0123456789abcdef" * 4
DIGEST = f"sha256:{HEX}"


@pytest.mark.parametrize(
    ("text", "full", "familiar"),
    [
        ("busybox", "docker.io/library/busybox:latest", "busybox:latest"),
        ("busybox:1.36", "docker.io/library/busybox:1.36", "busybox:1.36"),
        ("user/app", "docker.io/user/app:latest", "user/app:latest"),
        ("library/busybox", "docker.io/library/busybox:latest", "busybox:latest"),
        ("docker.io/busybox", "docker.io/library/busybox:latest", "busybox:latest"),
        ("index.docker.io/user/app", "docker.io/user/app:latest", "user/app:latest"),
        ("docker.io/library/a/b", "docker.io/library/a/b:latest", "library/a/b:latest"),
        (
            f"localhost:5000/a/b@{DIGEST}",
            f"localhost:5000/a/b@{DIGEST}",
            f"localhost:5000/a/b@{DIGEST}",
        ),
        ("localhost/app", "localhost/app:latest", "localhost/app:latest"),
        ("registry.example.com/x:1.2", "registry.example.com/x:1.2",
         "registry.example.com/x:1.2"),
        (f"busybox:1.36@{DIGEST}", f"docker.io/library/busybox:1.36@{DIGEST}",
         f"busybox:1.36@{DIGEST}"),
        (f"busybox@{DIGEST}", f"docker.io/library/busybox@{DIGEST}", f"busybox@{DIGEST}"),
        ("[::1]:5000/app:v_1.0-rc", "[::1]:5000/app:v_1.0-rc", "[::1]:5000/app:v_1.0-rc"),
        ("u/a.b-c__d--e_f", "docker.io/u/a.b-c__d--e_f:latest", "u/a.b-c__d--e_f:latest"),
        ("Registry.Example.com/x", "Registry.Example.com/x:latest",
         "Registry.Example.com/x:latest"),
        # a bare "host:port" is a name and a tag, as Docker reads it
        ("localhost:5000", "docker.io/library/localhost:5000", "localhost:5000"),
    ],
)
def test_normalise(text: str, full: str, familiar: str) -> None:
    ref = parse(text)
    assert str(ref) == full
    assert ref.familiar() == familiar
    assert parse(full) == ref  # the full form parses back to the same record


def test_fields() -> None:
    ref = Reference.parse(f"localhost:5000/a/b:t@{DIGEST}")
    assert ref == Reference(
        domain="localhost:5000", path="a/b", tag="t", digest=Digest.parse(DIGEST)
    )
    assert ref.name == "localhost:5000/a/b"
    assert parse("busybox").name == "docker.io/library/busybox"
    assert parse("busybox").familiar_name() == "busybox"


def test_default_tag_can_be_turned_off() -> None:
    assert parse("busybox", default_tag="").tag == ""
    assert str(parse("busybox", default_tag="")) == "docker.io/library/busybox"


@pytest.mark.parametrize("text", ["Busybox", "user/App", "docker.io/library/BUSYBOX:1"])
def test_uppercase_repository(text: str) -> None:
    with pytest.raises(InvalidArgument) as info:
        parse(text)
    assert str(info.value) == "invalid reference format: repository name must be lowercase"


def test_uppercase_first_component_is_a_domain_as_in_docker() -> None:
    assert parse("Foo/bar").domain == "Foo"


def test_tag_may_have_upper_case_and_is_at_most_128_characters() -> None:
    assert parse("a:V1").tag == "V1"
    assert parse("a:" + "t" * 128).tag == "t" * 128
    with pytest.raises(InvalidArgument, match="bad tag"):
        parse("a:" + "t" * 129)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "a:",
        "a:-x",  # a tag starts with a word character
        "a:.x",
        "a:b:c",
        "a:é",
        "a@",
        "a@sha256:abc",
        f"a@sha256:{HEX.upper()}",
        f"a@md5:{HEX}",
        "-a",
        "a-",
        "a..b",
        "a___b",
        "a//b",
        "a/",
        "/a",
        "a b",
        "example.com/",
        "-example.com/a",
        "exam_ple.com/a",
        "example.com:port/a",
        "localhost:5000/" + "a" * 250,  # name longer than 255
    ],
)
def test_invalid(text: str) -> None:
    with pytest.raises(InvalidArgument, match="invalid reference format"):
        parse(text)


def test_64_hex_is_not_a_repository_name() -> None:
    with pytest.raises(InvalidArgument, match="cannot specify 64-byte hexadecimal strings"):
        parse(HEX)


def test_name_of_255_characters_is_allowed() -> None:
    text = "localhost:5000/" + "a" * (255 - len("localhost:5000/"))
    assert parse(text).name == text


def test_record_is_immutable() -> None:
    ref = parse("busybox")
    with pytest.raises(AttributeError):
        ref.tag = "x"  # type: ignore[misc]
    assert str(ref.replace(tag="1")) == "docker.io/library/busybox:1"
