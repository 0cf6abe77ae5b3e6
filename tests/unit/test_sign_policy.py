"""containers-policy.json: parsing and validation, scope lookup (most specific wins, as
containers/image's requirementsForImageRef), signedIdentity matching (policy_reference_match.go's
rules), and evaluation against signatures (the registry side replaced by a list)."""

from __future__ import annotations

import base64
import json

import pytest

pytest.importorskip("cryptography")

from dockyard import errors  # noqa: E402
from dockyard.oci import reference  # noqa: E402
from dockyard.sign import keys, policy, remote  # noqa: E402
from dockyard.sign import payload as pl  # noqa: E402

DIGEST = "sha256:" + "ab" * 32
OTHER = "sha256:" + "cd" * 32


def ref(s: str):
    return reference.parse(s)


def test_scopes_most_specific_first():
    assert policy.scopes_of(ref("registry.example.com:5000/ns/app:1")) == [
        "registry.example.com:5000/ns/app:1", "registry.example.com:5000/ns/app", "registry.example.com:5000/ns",
        "registry.example.com:5000", "*.example.com", "*.com", ""]
    assert policy.scopes_of(ref(f"busybox@{DIGEST}"))[:3] == [
        f"docker.io/library/busybox@{DIGEST}", "docker.io/library/busybox", "docker.io/library"]
    assert policy.scopes_of(ref("127.0.0.1:5000/app"))[:4] == ["127.0.0.1:5000/app:latest", "127.0.0.1:5000/app",
                                                              "127.0.0.1:5000", "*.0.0.1"]


def test_requirements_for():
    p = policy.parse({"default": [{"type": "reject"}], "transports": {"docker": {
        "127.0.0.1:5000": [{"type": "insecureAcceptAnything"}],
        "127.0.0.1:5000/signed": [{"type": "reject"}, {"type": "insecureAcceptAnything"}],
        "127.0.0.1:5000/signed:dev": [{"type": "insecureAcceptAnything"}],
        "*.example.com": [{"type": "insecureAcceptAnything"}]},
        "docker-daemon": {"": [{"type": "insecureAcceptAnything"}]}}})
    assert policy.Policy.requirements_for(p, ref("127.0.0.1:5000/other:1"))[0] == 'transports.docker["127.0.0.1:5000"]'
    where, reqs = p.requirements_for(ref("127.0.0.1:5000/signed:1"))
    assert where == 'transports.docker["127.0.0.1:5000/signed"]' and [r.type for r in reqs] == ["reject",
                                                                                               "insecureAcceptAnything"]
    assert p.requirements_for(ref("127.0.0.1:5000/signed:dev"))[0] == 'transports.docker["127.0.0.1:5000/signed:dev"]'
    assert p.requirements_for(ref("a.b.example.com/x:1"))[0] == 'transports.docker["*.example.com"]'
    assert p.requirements_for(ref("quay.io/x:1"))[0] == "default"  # other transports' scopes do not apply
    # scopes are matched as written, never expanded (containers/image validates none)
    short = policy.parse({"default": [{"type": "reject"}], "transports": {"docker": {"busybox": [
        {"type": "insecureAcceptAnything"}]}}})
    assert short.requirements_for(ref("busybox:1"))[0] == "default"


@pytest.mark.parametrize("doc, message", [
    ([], "not a JSON object"),
    ({}, '"default" is missing'),
    ({"default": []}, "non-empty list"),
    ({"default": [{"type": "accept"}]}, 'unknown type "accept"'),
    ({"default": [{"type": "reject", "keyPath": "/x"}]}, 'unknown key "keyPath"'),
    ({"default": [{"type": "reject"}], "extra": 1}, 'unknown key "extra"'),
    ({"default": [{}]}, 'no "type"'),
    ({"default": [{"type": "sigstoreSigned"}]}, "exactly one of keyPath"),
    ({"default": [{"type": "sigstoreSigned", "keyPath": "/a", "keyData": "x"}]}, "got keyPath, keyData"),
    ({"default": [{"type": "sigstoreSigned", "keyPath": "/a", "signedIdentity": {"type": "matchAll"}}]},
     "signedIdentity must be"),
    ({"default": [{"type": "sigstoreSigned", "keyPath": "/a", "signedIdentity": {"type": "exactReference"}}]},
     'needs "dockerReference"'),
    ({"default": [{"type": "reject"}], "transports": []}, '"transports" is not an object'),
])
def test_invalid_policies(doc, message):
    with pytest.raises(policy.BadPolicy, match=message):
        policy.parse(doc, "p.json")


def test_load_errors(tmp_path):
    with pytest.raises(errors.NotFound):
        policy.load(str(tmp_path / "none.json"))
    (tmp_path / "bad.json").write_text("{")
    with pytest.raises(policy.BadPolicy, match="not JSON"):
        policy.load(str(tmp_path / "bad.json"))


def test_which_file(tmp_path, monkeypatch):
    monkeypatch.setattr(policy, "SYSTEM_POLICY", str(tmp_path / "system.json"))
    assert policy.find(str(tmp_path), None) is None
    (tmp_path / "system.json").write_text("{}")
    assert policy.find(str(tmp_path), None) == str(tmp_path / "system.json")
    (tmp_path / "policy.json").write_text("{}")
    assert policy.find(str(tmp_path), None) == str(tmp_path / "policy.json")
    assert policy.find(str(tmp_path), "/x.json") == "/x.json"


# signedIdentity: the cases of containers/image's policy_reference_match_test.go that matter here
@pytest.mark.parametrize("ident, image, signed, ok", [
    ({"type": "matchRepository"}, "127.0.0.1:5000/app:1", "127.0.0.1:5000/app", True),
    ({"type": "matchRepository"}, "127.0.0.1:5000/app:1", "127.0.0.1:5000/app2", False),
    ({"type": "matchRepository"}, "busybox:1", "index.docker.io/library/busybox", True),
    # cosign signatures name only a repository: never an exact match (containers-policy.json(5))
    ({"type": "matchRepoDigestOrExact"}, "127.0.0.1:5000/app:1", "127.0.0.1:5000/app", False),
    ({"type": "matchRepoDigestOrExact"}, "127.0.0.1:5000/app:1", "127.0.0.1:5000/app:1", True),
    ({"type": "matchRepoDigestOrExact"}, "127.0.0.1:5000/app:1", "127.0.0.1:5000/app:2", False),
    ({"type": "matchRepoDigestOrExact"}, f"127.0.0.1:5000/app@{DIGEST}", "127.0.0.1:5000/app:2", True),
    ({"type": "matchRepoDigestOrExact"}, f"127.0.0.1:5000/app@{DIGEST}", "127.0.0.1:5000/app", False),
    ({"type": "matchExact"}, "127.0.0.1:5000/app:1", "127.0.0.1:5000/app:1", True),
    ({"type": "matchExact"}, f"127.0.0.1:5000/app@{DIGEST}", "127.0.0.1:5000/app:1", False),
    ({"type": "exactRepository", "dockerRepository": "mirror.example/app"}, "127.0.0.1:5000/app:1",
     "mirror.example/app", True),
    ({"type": "exactRepository", "dockerRepository": "mirror.example/app"}, "127.0.0.1:5000/app:1",
     "127.0.0.1:5000/app", False),
    ({"type": "exactReference", "dockerReference": "mirror.example/app:1"}, "127.0.0.1:5000/app:7",
     "mirror.example/app:1", True),
    ({"type": "exactReference", "dockerReference": "mirror.example/app:1"}, "127.0.0.1:5000/app:7",
     "mirror.example/app:2", False),
    ({"type": "remapIdentity", "prefix": "127.0.0.1:5000", "signedPrefix": "upstream.example"},
     "127.0.0.1:5000/app:1", "upstream.example/app:1", True),
    ({"type": "remapIdentity", "prefix": "127.0.0.1:5000", "signedPrefix": "upstream.example"},
     "127.0.0.1:5000/app:1", "127.0.0.1:5000/app:1", False),
    ({"type": "matchRepository"}, "127.0.0.1:5000/app:1", "Not A Reference", False),
])
def test_identity_matches(ident, image, signed, ok):
    assert policy.identity_matches(ident, ref(image), signed) is ok


# ============================================================================ evaluation

@pytest.fixture(scope="module")
def signer():
    private, public = keys.generate(b"pw")
    return keys.load_private(private, b"pw", "k"), public


def signature(signer, image: str, digest: str = DIGEST, *, tamper: bool = False):
    body = pl.make(ref(image), digest)
    sig = signer.sign(body)
    return remote.Signature("simple", body + (b" " if tamper else b""), sig, f"{image} sig")


def evaluate(monkeypatch, doc, image, sigs, digest=DIGEST):
    monkeypatch.setattr(remote, "all_signatures", lambda reg, r, d, scope: list(sigs))
    policy.check(policy.parse(doc, "p.json"), None, ref(image), digest)


def keyed(public: bytes, **extra) -> dict:
    return {"type": "sigstoreSigned", "keyData": base64.b64encode(public).decode(), **extra}


def test_accept_and_reject(monkeypatch):
    evaluate(monkeypatch, {"default": [{"type": "insecureAcceptAnything"}]}, "127.0.0.1:5000/a:1", [])
    with pytest.raises(policy.PolicyDenied, match=r'default requirement 1 \(reject\): the policy rejects this image'):
        evaluate(monkeypatch, {"default": [{"type": "reject"}]}, "127.0.0.1:5000/a:1", [])


def test_signed(monkeypatch, signer):
    key, public = signer
    repo_rule = {"default": [{"type": "reject"}], "transports": {"docker": {
        "127.0.0.1:5000/a": [keyed(public, signedIdentity={"type": "matchRepository"})]}}}
    evaluate(monkeypatch, repo_rule, "127.0.0.1:5000/a:1", [signature(key, "127.0.0.1:5000/a:1")])
    with pytest.raises(policy.PolicyDenied, match=r'transports.docker\["127.0.0.1:5000/a"\] requirement 1 '
                                                  r'\(sigstoreSigned: signedIdentity matchRepository\): a signature '
                                                  "was required, but no signature exists"):
        evaluate(monkeypatch, repo_rule, "127.0.0.1:5000/a:1", [])
    with pytest.raises(policy.PolicyDenied, match="not DIGEST|is for digest"):
        evaluate(monkeypatch, repo_rule, "127.0.0.1:5000/a:1", [signature(key, "127.0.0.1:5000/a:1", OTHER)])
    with pytest.raises(policy.PolicyDenied, match="does not verify"):
        evaluate(monkeypatch, repo_rule, "127.0.0.1:5000/a:1", [signature(key, "127.0.0.1:5000/a:1", tamper=True)])
    with pytest.raises(policy.PolicyDenied, match="identity '127.0.0.1:5000/b' is not accepted"):
        evaluate(monkeypatch, repo_rule, "127.0.0.1:5000/a:1", [signature(key, "127.0.0.1:5000/b:1")])
    # one good signature among bad ones is enough
    evaluate(monkeypatch, repo_rule, "127.0.0.1:5000/a:1",
             [signature(key, "127.0.0.1:5000/a:1", tamper=True), signature(key, "127.0.0.1:5000/a:1")])
    # the default signedIdentity (matchRepoDigestOrExact) does not take cosign's repository-only identity
    default_ident = {"default": [keyed(public)]}
    with pytest.raises(policy.PolicyDenied, match="signedIdentity matchRepoDigestOrExact"):
        evaluate(monkeypatch, default_ident, "127.0.0.1:5000/a:1", [signature(key, "127.0.0.1:5000/a:1")])


def test_wrong_key(monkeypatch, signer):
    key, _public = signer
    _other_private, other_public = keys.generate(b"x")
    with pytest.raises(policy.PolicyDenied, match="does not verify"):
        evaluate(monkeypatch, {"default": [keyed(other_public, signedIdentity={"type": "matchRepository"})]},
                 "127.0.0.1:5000/a:1", [signature(key, "127.0.0.1:5000/a:1")])


def test_key_path_relative_to_policy(monkeypatch, signer, tmp_path):
    key, public = signer
    (tmp_path / "keys").mkdir()
    (tmp_path / "keys" / "cosign.pub").write_bytes(public)
    (tmp_path / "policy.json").write_text(json.dumps({"default": [
        {"type": "sigstoreSigned", "keyPath": "keys/cosign.pub", "signedIdentity": {"type": "matchRepository"}}]}))
    monkeypatch.setattr(remote, "all_signatures", lambda *a: [signature(key, "127.0.0.1:5000/a:1")])
    check = policy.enforcer(None, str(tmp_path / "policy.json"))
    check(None, ref("127.0.0.1:5000/a:1"), DIGEST)
    (tmp_path / "keys" / "cosign.pub").unlink()
    with pytest.raises(errors.NotFound, match="policy key"):
        check(None, ref("127.0.0.1:5000/a:1"), DIGEST)


@pytest.mark.parametrize("req", [
    {"type": "signedBy", "keyType": "GPGKeys", "keyPath": "/k.gpg"},
    {"type": "sigstoreSigned", "fulcio": {"caPath": "/ca"}},
    {"type": "signedBaseLayer", "baseLayerIdentity": {"type": "matchRepository"}},
])
def test_unsupported_requirements_refuse_when_they_apply(monkeypatch, req):
    doc = {"default": [{"type": "insecureAcceptAnything"}], "transports": {"docker": {"127.0.0.1:5000/x": [req]}}}
    evaluate(monkeypatch, doc, "127.0.0.1:5000/a:1", [])  # not this image's scope: no matter
    with pytest.raises(errors.NotImplemented, match="cannot check this requirement"):
        evaluate(monkeypatch, doc, "127.0.0.1:5000/x:1", [])
