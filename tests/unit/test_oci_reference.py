from __future__ import annotations

import pytest

from dockyard import errors
from dockyard.oci import reference
from dockyard.oci.reference import Reference, looks_like_id, parse

D = "sha256:" + "ab" * 32

# (input, domain, path, tag, digest, familiar name) — after distribution's normalize_test.go.
VALID = [
    ("busybox", "docker.io", "library/busybox", None, None, "busybox"),
    ("busybox:1.36", "docker.io", "library/busybox", "1.36", None, "busybox"),
    ("debian", "docker.io", "library/debian", None, None, "debian"),
    ("library/debian", "docker.io", "library/debian", None, None, "debian"),
    ("docker/docker", "docker.io", "docker/docker", None, None, "docker/docker"),
    ("docker.io/docker/docker", "docker.io", "docker/docker", None, None, "docker/docker"),
    ("docker.io/library/debian", "docker.io", "library/debian", None, None, "debian"),
    ("docker.io/debian", "docker.io", "library/debian", None, None, "debian"),
    ("index.docker.io/docker/docker", "docker.io", "docker/docker", None, None, "docker/docker"),
    ("index.docker.io/library/debian", "docker.io", "library/debian", None, None, "debian"),
    ("index.docker.io/debian", "docker.io", "library/debian", None, None, "debian"),
    ("127.0.0.1:5000/docker/docker", "127.0.0.1:5000", "docker/docker", None, None,
     "127.0.0.1:5000/docker/docker"),
    ("127.0.0.1:5000/library/debian", "127.0.0.1:5000", "library/debian", None, None,
     "127.0.0.1:5000/library/debian"),
    ("127.0.0.1:5000/debian", "127.0.0.1:5000", "debian", None, None, "127.0.0.1:5000/debian"),
    ("localhost/busybox", "localhost", "busybox", None, None, "localhost/busybox"),
    ("localhost:5000/ns/x:v1", "localhost:5000", "ns/x", "v1", None, "localhost:5000/ns/x"),
    ("myhost:5000/ns/x", "myhost:5000", "ns/x", None, None, "myhost:5000/ns/x"),
    ("ghcr.io/owner/repo/sub:tag", "ghcr.io", "owner/repo/sub", "tag", None,
     "ghcr.io/owner/repo/sub"),
    ("[2001:db8::1]/repo", "[2001:db8::1]", "repo", None, None, "[2001:db8::1]/repo"),
    ("[2001:db8::1]:5000/repo:t", "[2001:db8::1]:5000", "repo", "t", None,
     "[2001:db8::1]:5000/repo"),
    # library/ only folds away for single-component official names.
    # An uppercase first component is a registry to the parser (a new name refuses it, below).
    ("Docker/docker", "Docker", "docker", None, None, "Docker/docker"),
    ("library/distros/ubuntu", "docker.io", "library/distros/ubuntu", None, None,
     "library/distros/ubuntu"),
    # Separators inside path components: ".", "_", "__", and runs of "-".
    ("ns/a-b--c__d.e", "docker.io", "ns/a-b--c__d.e", None, None, "ns/a-b--c__d.e"),
    ("busybox@" + D, "docker.io", "library/busybox", None, D, "busybox"),
    ("busybox:1.36@" + D, "docker.io", "library/busybox", "1.36", D, "busybox"),
    ("busybox:Latest_V1.2-rc", "docker.io", "library/busybox", "Latest_V1.2-rc", None, "busybox"),
    ("thisisthesongthatneverendsitgoesonandonandonthisisthesongthatnev", "docker.io",
     "library/thisisthesongthatneverendsitgoesonandonandonthisisthesongthatnev", None, None,
     "thisisthesongthatneverendsitgoesonandonandonthisisthesongthatnev"),
]


@pytest.mark.parametrize("s,domain,path,tag,digest,familiar", VALID)
def test_normalisation(s, domain, path, tag, digest, familiar):
    ref = parse(s)
    assert (ref.domain, ref.path, ref.tag, ref.digest) == (domain, path, tag, digest)
    assert ref.name == f"{domain}/{path}"
    assert ref.familiar_name == familiar


INVALID = [
    ("", "at least one component"),
    ("Busybox", "repository name (library/Busybox) must be lowercase"),
    ("docker.io/docker/Docker", "repository name (docker/Docker) must be lowercase"),
    ("localhost:5000/Foo:tag", "repository name (Foo) must be lowercase"),
    ("Uppercase:tag", "must be lowercase"),
    ("https://github.com/docker/docker", "invalid"),
    ("-docker", "invalid repository name"),
    ("-docker/docker", "invalid repository name"),
    ("docker///docker", "invalid repository name"),
    ("docker.io/docker///docker", "invalid repository name"),
    ("aa/asdf$$^/aa", "invalid repository name"),
    ("a..b/c", "invalid registry host"),
    ("host:/x", "invalid registry host"),
    ("busybox:", "invalid tag"),
    ("busybox:-bad", "invalid tag"),
    ("busybox:" + "a" * 129, "invalid tag"),
    ("busybox:a:b", "invalid tag"),
    (":tag", "invalid"),
    ("@" + D, "invalid"),
    ("busybox@sha256:abc", "invalid digest"),
    ("busybox@sha256:" + "AB" * 32, "lowercase hex"),
    ("busybox@md5:" + "a" * 32, "unsupported digest algorithm"),
    ("busybox@", "invalid digest"),
    ("busy box", "invalid repository name"),
    ("ns/" + "a" * 250, "more than 255 characters"),
    ("f" * 64, "cannot specify 64-byte hexadecimal strings"),
    ("1a3f5e7d9c1b3a5f7e9d1c3b5a7f9e1d3c5b7a9f1e3d5d7c9b1a3f5e7d9c1b3a", "64-byte hexadecimal"),
]


@pytest.mark.parametrize("s,message", INVALID)
def test_invalid(s, message):
    with pytest.raises(errors.BadReference) as e:
        parse(s)
    assert message in str(e.value)
    assert isinstance(e.value, errors.InvalidArgument)


def test_uppercase_message_matches_docker():
    with pytest.raises(errors.BadReference) as e:
        parse("Busybox")
    assert str(e.value) == "invalid reference format: repository name (library/Busybox) must be lowercase"


def test_name_length_limit_counts_the_normalised_name():
    ok = "ns/" + "a" * (255 - len("docker.io/ns/"))
    assert parse(ok).path == ok
    with pytest.raises(errors.BadReference):
        parse(ok + "a")


def test_str_and_familiar_forms():
    ref = parse("busybox")
    assert str(ref) == "docker.io/library/busybox"
    assert ref.familiar() == "busybox"
    tagged = ref.with_default_tag()
    assert tagged.tag == "latest"
    assert str(tagged) == "docker.io/library/busybox:latest"
    assert tagged.familiar() == "busybox:latest"
    pinned = parse("myhost:5000/ns/x:1@" + D)
    assert str(pinned) == f"myhost:5000/ns/x:1@{D}"
    assert pinned.familiar() == f"myhost:5000/ns/x:1@{D}"


def test_with_default_tag_leaves_tags_and_digests_alone():
    assert parse("busybox:1.36").with_default_tag().tag == "1.36"
    by_digest = parse("busybox@" + D).with_default_tag()
    assert by_digest.tag is None and by_digest.digest == D


def test_full_string_round_trips():
    for s, *_ in VALID:
        ref = parse(s)
        assert parse(str(ref)) == ref


def test_with_tag_and_digest():
    ref = parse("busybox@" + D)
    assert str(ref.with_tag("v2")) == "docker.io/library/busybox:v2"
    with pytest.raises(errors.BadReference):
        ref.with_tag("-x")
    assert parse("busybox:1").with_digest(D).digest == D
    with pytest.raises(errors.InvalidDigest):
        parse("busybox").with_digest("sha256:bad")


def test_reference_is_a_frozen_value():
    ref = parse("busybox")
    assert ref == Reference(domain="docker.io", path="library/busybox")
    with pytest.raises(AttributeError):
        ref.tag = "x"  # type: ignore[misc]
    assert len({parse("busybox"), parse("docker.io/library/busybox")}) == 1


def test_split_domain():
    assert reference.split_domain("busybox") == ("docker.io", "library/busybox")
    assert reference.split_domain("index.docker.io/x/y") == ("docker.io", "x/y")
    assert reference.split_domain("localhost/x") == ("localhost", "x")


@pytest.mark.parametrize(
    "s,expected",
    [
        ("0123456789ab", True),
        ("f" * 64, True),
        ("sha256:" + "f" * 64, True),
        ("sha256:0123456789ab", True),
        ("0123456789a", False),  # too short to be unambiguous
        ("f" * 65, False),
        ("0123456789AB", False),
        ("busybox", False),
        ("0123456789ag", False),
    ],
)
def test_looks_like_id(s, expected):
    assert looks_like_id(s) is expected


@pytest.mark.parametrize("s", ["Docker/docker", "UPPER/x:1"])
def test_new_names_refuse_an_uppercase_host_without_a_dot(s):
    # docker's splitter takes the first component for a registry host; dockerd then refuses the
    # name (docker tag busybox Docker/docker: "repository name must be lowercase")
    parse(s)  # a stored name still reads
    with pytest.raises(errors.BadReference, match="invalid reference format: repository name must be lowercase"):
        reference.parse_new_name(s)
    assert reference.parse_new_name("Registry.Example:5000/x").domain == "Registry.Example:5000"
