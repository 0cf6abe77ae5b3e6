"""`dockyard key generate`, `sign`, `verify` and the signature policy, end to end against
`dockyard registry serve` on 127.0.0.1 (and Debian's CNCF `docker-registry` where installed).

What is stored is read back raw over HTTP and checked field for field against cosign's layout;
every signature is checked by openssl too. A refused pull is checked in the store afterwards:
no image, no new blob, no container."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
import subprocess

import pytest
from support import no_traceback
from test_registry_server import OCI_CONFIG, OCI_MANIFEST, Registry, sha

pytest.importorskip("aiohttp")
pytest.importorskip("cryptography")
pytest.importorskip("nacl")

SIMPLESIGNING = "application/vnd.dev.cosign.simplesigning.v1+json"
SIG_KEY = "dev.cosignproject.cosign/signature"
BUNDLE = "application/vnd.dev.sigstore.bundle.v0.3+json"


@pytest.fixture
def registry(tmp_path):
    r = Registry(tmp_path)
    yield r
    r.stop()


def keygen(dy, tmp_path, name: str, password: str = "pw") -> tuple[str, str]:
    prefix = str(tmp_path / name)
    p = dy("key", "generate", "--output-key-prefix", prefix, "--password-stdin", input=password)
    assert f"Private key written to {prefix}.key" in p.err
    assert os.stat(prefix + ".key").st_mode & 0o777 == 0o600
    return prefix + ".key", prefix + ".pub"


def push_busybox(dy, registry, repo: str = "app", tag: str = "1") -> str:
    image = f"127.0.0.1:{registry.port}/{repo}:{tag}"
    dy("tag", "busybox:latest", image)
    dy("push", "-q", image)
    return image


def digest_of(registry, repo: str, tag: str) -> str:
    r = registry.request("GET", f"/v2/{repo}/manifests/{tag}", headers={"Accept": OCI_MANIFEST + ", "
                         "application/vnd.docker.distribution.manifest.v2+json"})
    assert r.status == 200, r
    return sha(r.body)


def sig_manifest(registry, repo: str, digest: str) -> dict:
    r = registry.request("GET", f"/v2/{repo}/manifests/{digest.replace(':', '-')}.sig",
                         headers={"Accept": OCI_MANIFEST})
    assert r.status == 200, r
    return r.json()


def openssl_verifies(tmp_path, pub: str, signature: bytes, payload: bytes) -> bool:
    (tmp_path / "sig.der").write_bytes(signature)
    (tmp_path / "payload").write_bytes(payload)
    p = subprocess.run(["openssl", "dgst", "-sha256", "-verify", pub, "-signature", str(tmp_path / "sig.der"),
                        str(tmp_path / "payload")], capture_output=True)
    return p.returncode == 0 and b"Verified OK" in p.stdout


def test_sign_and_verify(dy, busybox, registry, tmp_path):
    image = push_busybox(dy, registry)
    key_a, pub_a = keygen(dy, tmp_path, "a")
    key_b, pub_b = keygen(dy, tmp_path, "b", password="")  # an empty password, as cosign allows
    _key_c, pub_c = keygen(dy, tmp_path, "c")
    digest = digest_of(registry, "app", "1")

    p = dy("sign", "--key", key_a, "-a", "build=7", "-a", "team=<core>", image, "--password-stdin", input="pw")
    assert p.out.strip() == f"127.0.0.1:{registry.port}/app:{digest.replace(':', '-')}.sig"

    # the layout cosign writes, field for field
    m = sig_manifest(registry, "app", digest)
    assert m["schemaVersion"] == 2 and m["mediaType"] == OCI_MANIFEST
    assert m["config"]["mediaType"] == OCI_CONFIG
    config = registry.request("GET", f"/v2/app/blobs/{m['config']['digest']}").json()
    assert len(m["layers"]) == 1
    layer = m["layers"][0]
    assert set(layer) == {"mediaType", "size", "digest", "annotations"} and layer["mediaType"] == SIMPLESIGNING
    assert set(layer["annotations"]) == {SIG_KEY}
    assert config["rootfs"] == {"type": "layers", "diff_ids": [layer["digest"]]}
    payload = registry.request("GET", f"/v2/app/blobs/{layer['digest']}").body
    assert sha(payload) == layer["digest"] and len(payload) == layer["size"]
    assert payload == (
        '{"critical":{"identity":{"docker-reference":"127.0.0.1:%d/app"},"image":{"docker-manifest-digest":"%s"},'
        '"type":"cosign container image signature"},"optional":{"build":"7","team":"\\u003ccore\\u003e"}}'
        % (registry.port, digest)).encode()
    signature = base64.b64decode(layer["annotations"][SIG_KEY])
    assert openssl_verifies(tmp_path, pub_a, signature, payload)
    assert not openssl_verifies(tmp_path, pub_b, signature, payload)

    # a second key adds a layer and leaves the first alone; the same key again adds nothing
    dy("sign", "--key", key_b, image, "--password-stdin", input="")
    p = dy("sign", "--key", key_a, "-a", "build=7", "-a", "team=<core>", image, "--password-stdin", input="pw")
    assert "already signed" in p.err
    m2 = sig_manifest(registry, "app", digest)
    assert [x["mediaType"] for x in m2["layers"]] == [SIMPLESIGNING, SIMPLESIGNING] and m2["layers"][0] == layer
    second = m2["layers"][1]
    payload_b = registry.request("GET", f"/v2/app/blobs/{second['digest']}").body
    assert json.loads(payload_b)["optional"] is None
    assert openssl_verifies(tmp_path, pub_b, base64.b64decode(second["annotations"][SIG_KEY]), payload_b)

    # verify: each key finds its own signature; the payload printed is the one signed
    p = dy("verify", "--key", pub_a, image)
    assert json.loads(p.out) == [json.loads(payload)]
    assert "The signatures were verified against the specified public key" in p.err
    p = dy("verify", "--key", pub_b, f"127.0.0.1:{registry.port}/app@{digest}")
    assert json.loads(p.out) == [json.loads(payload_b)]
    p = dy("verify", "--key", pub_c, image, check=False)
    assert p.returncode == 1 and "no matching signatures" in p.err and "does not verify" in p.err
    no_traceback(p)


def test_tampering_is_caught(dy, busybox, registry, tmp_path):
    image = push_busybox(dy, registry)
    key, pub = keygen(dy, tmp_path, "k")
    digest = digest_of(registry, "app", "1")
    dy("sign", "--key", key, "-a", "stage=test", image, "--password-stdin", input="pw")
    m = sig_manifest(registry, "app", digest)
    layer = m["layers"][0]
    payload = registry.request("GET", f"/v2/app/blobs/{layer['digest']}").body

    # the payload altered, its signature kept: neither openssl nor dockyard accepts it
    forged = payload.replace(b'"stage":"test"', b'"stage":"prod"')
    assert forged != payload
    registry.push_blob("app", forged)
    m["layers"][0] = {**layer, "digest": sha(forged), "size": len(forged)}
    assert registry.push_manifest("app", f"{digest.replace(':', '-')}.sig", m).status == 201
    assert not openssl_verifies(tmp_path, pub, base64.b64decode(layer["annotations"][SIG_KEY]), forged)
    p = dy("verify", "--key", pub, image, check=False)
    assert p.returncode == 1 and "does not verify" in p.err
    no_traceback(p)

    # a good signature of another image's digest, copied under this one: the digest check refuses it
    fake_digest, _ = registry.push_image("app", "2", [b"not a layer"])
    m_other = sig_manifest(registry, "app", digest)
    m_other["layers"] = [layer]  # the original, valid signature over `digest`
    assert registry.push_manifest("app", f"{fake_digest.replace(':', '-')}.sig", m_other).status == 201
    p = dy("verify", "--key", pub, f"127.0.0.1:{registry.port}/app:2", check=False)
    assert p.returncode == 1 and f"is for digest {digest}, not {fake_digest}" in p.err
    no_traceback(p)

    # no signature at all
    registry.push_image("app", "3", [b"also not a layer"])
    p = dy("verify", "--key", pub, f"127.0.0.1:{registry.port}/app:3", check=False)
    assert p.returncode == 1 and "no signatures found" in p.err
    no_traceback(p)


def test_bad_input(dy, busybox, registry, tmp_path):
    image = push_busybox(dy, registry)
    key, pub = keygen(dy, tmp_path, "k")
    cases = [
        (("sign", "--key", key, image, "--password-stdin"), "wrong", "decryption failed (wrong password?)"),
        (("sign", "--key", pub, image, "--password-stdin"), "pw", "not an encrypted cosign private key"),
        (("sign", "--key", str(tmp_path / "none.key"), image, "--password-stdin"), "pw", "no such file"),
        (("sign", image), "", "needs --key"),
        (("sign", "--key", key, "-a", "novalue", image, "--password-stdin"), "pw", "invalid annotation"),
        (("sign", "--key", key, f"127.0.0.1:{registry.port}/missing:1", "--password-stdin"), "pw", "not found"),
        (("sign", "--key", key, f"127.0.0.1:{registry.port}/app@sha256:{'0' * 64}", "--password-stdin"), "pw",
         "not found"),
        (("verify", "--key", pub, f"127.0.0.1:{registry.port}/app:nope"), None, "not found"),
        (("sign", "--key", key, "Bad Name", "--password-stdin"), "pw", "invalid reference format"),
        (("verify", "--key", key, image), None, "not a 'PUBLIC KEY'"),
        (("key", "generate", "--output-key-prefix", key[:-4], "--password-stdin"), "pw", "already exists"),
    ]
    (tmp_path / "corrupt.key").write_bytes(open(key, "rb").read().replace(b"eyJ", b"eyK", 1))
    cases.append((("sign", "--key", str(tmp_path / "corrupt.key"), image, "--password-stdin"), "pw", "corrupt"))
    before = registry.request("GET", "/v2/app/tags/list").json()["tags"]
    for argv, stdin, message in cases:
        p = dy(*argv, check=False, input=stdin)
        assert p.returncode == 1, (argv, p.err)
        assert message in p.err, (argv, p.err)
        no_traceback(p)
    assert registry.request("GET", "/v2/app/tags/list").json()["tags"] == before  # no .sig tag was made
    # no password anywhere and no terminal
    env_less = {k: v for k, v in dy.env.items() if k != "COSIGN_PASSWORD"}
    p = subprocess.run(dy.cmd("sign", "--key", key, image), env=env_less, cwd=os.getcwd(), capture_output=True,
                       stdin=subprocess.DEVNULL, timeout=60)
    assert p.returncode == 1 and b"set $COSIGN_PASSWORD or use --password-stdin" in p.stderr
    # COSIGN_PASSWORD is read as cosign reads it
    p = subprocess.run(dy.cmd("sign", "--key", key, image), env=dict(env_less, COSIGN_PASSWORD="pw"),
                       capture_output=True, stdin=subprocess.DEVNULL, timeout=60)
    assert p.returncode == 0, p.stderr


# ============================================================================ referrers (cosign v3)

def make_bundle(private, subject_hex: str, tamper: bool = False) -> bytes:
    """A Sigstore bundle v0.3 as cosign v3 writes one for a key (DSSE envelope around an in-toto
    statement of cosign's signing predicate), made with the cryptography package directly."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec

    statement = json.dumps({"_type": "https://in-toto.io/Statement/v1",
                            "subject": [{"digest": {"sha256": subject_hex}}],
                            "predicateType": "https://sigstore.dev/cosign/sign/v1", "predicate": {}}).encode()
    ptype = "application/vnd.in-toto+json"
    pae = b"DSSEv1 %d %s %d %s" % (len(ptype), ptype.encode(), len(statement), statement)
    sig = private.sign(pae, ec.ECDSA(hashes.SHA256()))
    if tamper:
        statement = statement.replace(b"Statement/v1", b"Statement/v2")
    return json.dumps({"mediaType": BUNDLE, "verificationMaterial": {"publicKey": {"hint": "k"}},
                       "dsseEnvelope": {"payload": base64.b64encode(statement).decode(), "payloadType": ptype,
                                        "signatures": [{"sig": base64.b64encode(sig).decode()}]}}).encode()


def referrer_manifest(bundle_digest: str, bundle_size: int, empty_digest: str, subject: str, subject_size: int) -> bytes:
    return json.dumps({
        "schemaVersion": 2, "mediaType": OCI_MANIFEST, "artifactType": BUNDLE,
        "config": {"mediaType": "application/vnd.oci.empty.v1+json", "digest": empty_digest, "size": 2},
        "layers": [{"mediaType": BUNDLE, "digest": bundle_digest, "size": bundle_size}],
        "subject": {"mediaType": OCI_MANIFEST, "digest": subject, "size": subject_size},
        "annotations": {"dev.sigstore.bundle.content": "dsse-envelope"}}).encode()


def new_key(tmp_path):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    private = ec.generate_private_key(ec.SECP256R1())
    (tmp_path / "k.pub").write_bytes(private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    return private, str(tmp_path / "k.pub")


def test_sigstore_bundle_referrer_verifies(dy, busybox, registry, tmp_path):
    """A signature kept the way cosign v3 keeps it (--new-bundle-format): a Sigstore bundle
    pushed as an OCI 1.1 referrer, found through the registry's referrers API."""
    image = push_busybox(dy, registry)
    digest = digest_of(registry, "app", "1")
    size = len(registry.request("GET", f"/v2/app/manifests/{digest}", headers={"Accept": OCI_MANIFEST}).body)
    private, pub = new_key(tmp_path)

    def push_bundle(subject_hex: str, tamper: bool = False) -> None:
        bundle = make_bundle(private, subject_hex, tamper)
        data = referrer_manifest(registry.push_blob("app", bundle), len(bundle), registry.push_blob("app", b"{}"),
                                 digest, size)
        assert registry.push_manifest("app", sha(data), data).status == 201

    push_bundle(digest.split(":")[1], tamper=True)
    p = dy("verify", "--key", pub, image, check=False)
    assert p.returncode == 1 and "(referrer): the signature does not verify" in p.err
    push_bundle("00" * 32)  # signed, but for another image
    p = dy("verify", "--key", pub, image, check=False)
    assert p.returncode == 1 and f"no subject of the statement has digest {digest}" in p.err
    push_bundle(digest.split(":")[1])
    p = dy("verify", "--key", pub, image)
    [doc] = json.loads(p.out)
    assert doc["predicateType"] == "https://sigstore.dev/cosign/sign/v1"
    assert doc["subject"] == [{"digest": {"sha256": digest.split(":")[1]}}]


def test_sigstore_message_signature_referrer_verifies(dy, busybox, registry, tmp_path):
    """A bundle holding a messageSignature (a signature over the image's manifest bytes, named by
    its digest) kept as an OCI 1.1 referrer: verified with the key against the image's digest;
    a signature over other bytes, or naming another digest, is refused."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec

    image = push_busybox(dy, registry)
    digest = digest_of(registry, "app", "1")
    manifest = registry.request("GET", f"/v2/app/manifests/{digest}", headers={"Accept": OCI_MANIFEST}).body
    assert "sha256:" + hashlib.sha256(manifest).hexdigest() == digest
    private, pub = new_key(tmp_path)

    def push_bundle(signed: bytes, named: bytes) -> None:
        sig = private.sign(signed, ec.ECDSA(hashes.SHA256()))
        bundle = json.dumps({"mediaType": BUNDLE, "verificationMaterial": {"publicKey": {"hint": "k"}},
                             "messageSignature": {"messageDigest": {"algorithm": "SHA2_256",
                                                                    "digest": base64.b64encode(named).decode()},
                                                  "signature": base64.b64encode(sig).decode()}}).encode()
        data = referrer_manifest(registry.push_blob("app", bundle), len(bundle), registry.push_blob("app", b"{}"),
                                 digest, len(manifest))
        data = data.replace(b'"dsse-envelope"', b'"message-signature"')
        assert registry.push_manifest("app", sha(data), data).status == 201

    raw = hashlib.sha256(manifest).digest()
    push_bundle(manifest + b"\n", raw)  # a signature over other bytes
    p = dy("verify", "--key", pub, image, check=False)
    assert p.returncode == 1 and "(referrer): the signature does not verify" in p.err
    push_bundle(manifest, b"\0" * 32)  # a signature that names another manifest
    p = dy("verify", "--key", pub, image, check=False)
    assert p.returncode == 1 and "is for digest sha256:" + "00" * 32 in p.err
    push_bundle(manifest, raw)
    p = dy("verify", "--key", pub, image)
    assert json.loads(p.out) == [{"messageDigest": {"algorithm": "SHA2_256", "digest": digest}}]


# ============================================================================ policy

def store_snapshot(dy) -> tuple[set, str]:
    blobs = set()
    for base, _dirs, files in os.walk(os.path.join(dy.root, "content")):
        blobs.update(f for f in files if not f.endswith(".part"))
    return blobs, dy("images", "-q", "--no-trunc").out


def test_policy_enforced_on_pull_run_and_create(dy, busybox, registry, tmp_path):
    image = push_busybox(dy, registry)
    key, pub = keygen(dy, tmp_path, "k")
    _other_key, other_pub = keygen(dy, tmp_path, "other")
    dy("sign", "--key", key, image, "--password-stdin", input="pw")
    registry.push_image("app", "unsigned", [b"layer bytes"])
    base = f"127.0.0.1:{registry.port}"
    policy = tmp_path / "policy.json"
    policy.write_text(json.dumps({"default": [{"type": "reject"}], "transports": {"docker": {
        f"{base}/app": [{"type": "sigstoreSigned", "keyPath": pub, "signedIdentity": {"type": "matchRepository"}}],
        f"{base}/wrongkey": [{"type": "sigstoreSigned", "keyPath": other_pub,
                              "signedIdentity": {"type": "matchRepository"}}],
        f"{base}/open": [{"type": "insecureAcceptAnything"}]}}}))

    fresh = type(dy)(str(tmp_path / "root2"), str(tmp_path / "run2"))
    fresh("images")
    before = store_snapshot(fresh)

    # unsigned: refused, naming the rule, and nothing stored
    p = fresh("pull", "--signature-policy", str(policy), f"{base}/app:unsigned", check=False)
    assert p.returncode == 1, p.err
    assert (f'{base}/app:unsigned is refused by signature policy {policy}, transports.docker["{base}/app"] '
            f"requirement 1 (sigstoreSigned: keyPath {pub}, signedIdentity matchRepository): "
            "a signature was required, but no signature exists") in p.err
    no_traceback(p)
    assert store_snapshot(fresh) == before

    # the same signed image under a repository whose rule wants another key: refused
    dy("tag", "busybox:latest", f"{base}/wrongkey:1")
    dy("push", "-q", f"{base}/wrongkey:1")
    dy("sign", "--key", key, f"{base}/wrongkey:1", "--password-stdin", input="pw")
    p = fresh("pull", "--signature-policy", str(policy), f"{base}/wrongkey:1", check=False)
    assert p.returncode == 1 and "none of the signatures were accepted" in p.err and "does not verify" in p.err
    assert store_snapshot(fresh) == before

    # default: reject
    dy("tag", "busybox:latest", f"{base}/elsewhere:1")
    dy("push", "-q", f"{base}/elsewhere:1")
    p = fresh("pull", "--signature-policy", str(policy), f"{base}/elsewhere:1", check=False)
    assert p.returncode == 1 and "default requirement 1 (reject): the policy rejects this image" in p.err
    assert store_snapshot(fresh) == before

    # run and create: the same refusal (docker's codes for what the daemon refuses: run 125, create 1),
    # no container made
    for cmd, code in (("run", 125), ("create", 1)):
        p = fresh(cmd, "--signature-policy", str(policy), f"{base}/app:unsigned", "true", check=False)
        assert p.returncode == code and "a signature was required, but no signature exists" in p.err, p.err
        no_traceback(p)
        assert fresh("ps", "-aq").out == ""
    assert store_snapshot(fresh) == before

    # the policy under the store's root applies without the flag
    shutil.copy(policy, os.path.join(fresh.root, "policy.json"))
    p = fresh("pull", f"{base}/app:unsigned", check=False)
    assert p.returncode == 1 and "no signature exists" in p.err
    assert store_snapshot(fresh) == before

    # signed with the right key: pulled, and it runs
    fresh("pull", f"{base}/app:1")
    p = fresh("run", "--rm", "--network", "none", f"{base}/app:1", "echo", "signed")
    assert p.out == "signed\n"
    # insecureAcceptAnything lets an unsigned image through its own scope
    push_busybox(dy, registry, "open", "1")
    assert registry.request("GET", f"/v2/open/manifests/{digest_of(registry, 'open', '1').replace(':', '-')}.sig",
                            headers={"Accept": OCI_MANIFEST}).status == 404
    fresh("pull", f"{base}/open:1")


def test_bad_policy_files(dy, busybox, registry, tmp_path):
    image = push_busybox(dy, registry)
    (tmp_path / "p.json").write_text('{"default": [{"type": "sigstoreSigned", "keyPath": "/nonexistent.pub", '
                                     '"signedIdentity": {"type": "matchRepository"}}]}')
    (tmp_path / "bad.json").write_text('{"default": []}')
    for policy, message in ((tmp_path / "p.json", "policy key /nonexistent.pub: no such file"),
                            (tmp_path / "bad.json", "must be a non-empty list of requirements"),
                            (tmp_path / "none.json", "no such file")):
        p = dy("pull", "--signature-policy", str(policy), image, check=False)
        assert p.returncode == 1 and message in p.err, p.err
        no_traceback(p)


# ============================================================================ immutable tags

def test_immutable_tags(dy, busybox, tmp_path):
    reg = Registry(tmp_path, "--immutable-tags-except", "latest")
    try:
        base = f"127.0.0.1:{reg.port}"
        first, _ = reg.push_image("app", "1.0", [b"one"])
        # pushing the same manifest again is fine; moving the tag is not (ECR's answer)
        again = reg.request("GET", "/v2/app/manifests/1.0", headers={"Accept": OCI_MANIFEST})
        assert reg.push_manifest("app", "1.0", again.body).status == 201
        r = reg.request("PUT", "/v2/app/manifests/1.0", json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                        "config": json.loads(again.body)["config"], "layers": []}).encode(),
                        {"Content-Type": OCI_MANIFEST})
        assert r.status == 400 and r.codes == ["TAG_INVALID"]
        assert "already exists in the 'app' repository and cannot be overwritten" in r.json()["errors"][0]["message"]
        assert digest_of(reg, "app", "1.0") == first
        # the excepted tag moves
        reg.push_image("app", "latest", [b"a"])
        second, _ = reg.push_image("app", "latest", [b"b"])
        assert digest_of(reg, "app", "latest") == second
        # dockyard push of another image to an immutable tag: a clear error, the tag unchanged
        dy("tag", "busybox:latest", f"{base}/app:1.0")
        p = dy("push", f"{base}/app:1.0", check=False)
        assert p.returncode == 1 and "tag invalid: The image tag '1.0' already exists" in p.err, p.err
        no_traceback(p)
        assert digest_of(reg, "app", "1.0") == first

        # a second signature re-pushes the .sig tag: refused too (ECR exempts nothing) ...
        image = push_busybox(dy, reg, "signed", "1")
        k1, _ = keygen(dy, tmp_path, "k1")
        k2, _ = keygen(dy, tmp_path, "k2")
        dy("sign", "--key", k1, image, "--password-stdin", input="pw")
        p = dy("sign", "--key", k2, image, "--password-stdin", input="pw", check=False)
        assert p.returncode == 1 and "cannot be overwritten" in p.err
        no_traceback(p)
    finally:
        reg.stop()
    # ... unless the signature tags are excepted
    reg = Registry(tmp_path, "--immutable-tags-except", "latest,sha256-*.sig", root=reg.root)
    try:
        image = image.replace(base, f"127.0.0.1:{reg.port}")
        dy("sign", "--key", k2, image, "--password-stdin", input="pw")
        assert len(sig_manifest(reg, "signed", digest_of(reg, "signed", "1"))["layers"]) == 2
    finally:
        reg.stop()


def test_immutable_tags_cannot_be_deleted(tmp_path):
    reg = Registry(tmp_path, "--immutable-tags", "--delete-enabled")
    try:
        digest, _ = reg.push_image("app", "1", [b"x"])
        r = reg.request("DELETE", "/v2/app/manifests/1")
        assert r.status == 403 and r.codes == ["DENIED"]
        r = reg.request("DELETE", f"/v2/app/manifests/{digest}")
        assert r.status == 403 and r.codes == ["DENIED"]
        assert digest_of(reg, "app", "1") == digest
        untagged, _ = reg.push_image("app", None, [b"y"])
        assert reg.request("DELETE", f"/v2/app/manifests/{untagged}").status == 202
    finally:
        reg.stop()


# ============================================================================ the CNCF registry

DISTRIBUTION = shutil.which("docker-registry") or "/usr/bin/docker-registry"


@pytest.mark.skipif(not os.path.exists(DISTRIBUTION), reason="docker-registry is not installed")
def test_sign_verify_on_cncf_distribution(dy, busybox, tmp_path):
    """The same against Debian's docker-registry (CNCF distribution): its blob and manifest rules,
    and a registry without the referrers API (verify still reads the .sig tag)."""
    from test_registry_client import Registry as Distribution

    (tmp_path / "dist").mkdir()
    reg = Distribution(tmp_path / "dist")
    try:
        image = f"{reg.addr}/ns/app:1"
        dy("tag", "busybox:latest", image)
        dy("push", "-q", image)
        key, pub = keygen(dy, tmp_path, "k")
        dy("sign", "--key", key, "-a", "x=y", image, "--password-stdin", input="pw")
        p = dy("verify", "--key", pub, image)
        [doc] = json.loads(p.out)
        assert doc["critical"]["identity"]["docker-reference"] == f"{reg.addr}/ns/app"
        assert doc["optional"] == {"x": "y"}
        digest = doc["critical"]["image"]["docker-manifest-digest"]
        status, _h, body = reg.request("GET", f"/v2/ns/app/manifests/{digest.replace(':', '-')}.sig",
                                       headers={"Accept": OCI_MANIFEST})
        assert status == 200
        layer = json.loads(body)["layers"][0]
        _s, _h, payload = reg.request("GET", f"/v2/ns/app/blobs/{layer['digest']}")
        assert hashlib.sha256(payload).hexdigest() == layer["digest"].split(":")[1]
        assert openssl_verifies(tmp_path, pub, base64.b64decode(layer["annotations"][SIG_KEY]), payload)

        # no referrers API here: a bundle is found through the spec's fallback tag (sha256-<hex>)
        assert reg.request("GET", f"/v2/ns/app/referrers/{digest}")[0] == 404
        private, bundle_pub = new_key(tmp_path)

        def blob(data: bytes) -> str:
            d = "sha256:" + hashlib.sha256(data).hexdigest()
            status, headers, _b = reg.request("POST", "/v2/ns/app/blobs/uploads/")
            assert status == 202
            location = headers["Location"].split(f"127.0.0.1:{reg.port}", 1)[-1]
            status, _h, _b = reg.request("PUT", f"{location}{'&' if '?' in location else '?'}digest={d}", data,
                                         {"Content-Type": "application/octet-stream"})
            assert status == 201
            return d

        _s, _h, subject = reg.request("GET", f"/v2/ns/app/manifests/{digest}",
                                      headers={"Accept": OCI_MANIFEST + ", application/vnd.docker.distribution."
                                                                        "manifest.v2+json"})
        bundle = make_bundle(private, digest.split(":")[1])
        ref_manifest = referrer_manifest(blob(bundle), len(bundle), blob(b"{}"), digest, len(subject))
        ref_digest = "sha256:" + hashlib.sha256(ref_manifest).hexdigest()
        status, _h, body = reg.request("PUT", f"/v2/ns/app/manifests/{ref_digest}", ref_manifest,
                                       {"Content-Type": OCI_MANIFEST})
        assert status == 201, body
        index = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
                            "manifests": [{"mediaType": OCI_MANIFEST, "digest": ref_digest, "size": len(ref_manifest),
                                           "artifactType": BUNDLE}]}).encode()
        status, _h, body = reg.request("PUT", f"/v2/ns/app/manifests/{digest.replace(':', '-')}", index,
                                       {"Content-Type": "application/vnd.oci.image.index.v1+json"})
        assert status == 201, body
        p = dy("verify", "--key", bundle_pub, image)
        assert json.loads(p.out)[0]["subject"] == [{"digest": {"sha256": digest.split(":")[1]}}]
    finally:
        reg.stop()


def test_password_prompts_on_a_terminal(dy, tmp_path):
    """No --password-stdin and no $COSIGN_PASSWORD: asked twice on the terminal, never echoed."""
    from support import Pty

    prefix = str(tmp_path / "t")
    t = Pty(dy, "key", "generate", "--output-key-prefix", prefix)
    try:
        t.expect(rb"Enter password for private key: ")
        t.send(b"abc\n")
        t.expect(rb"again: ")
        t.send(b"abd\n")
        assert t.wait() == 1
    finally:
        t.kill()
    assert "passwords do not match" in t.text and "abc" not in t.text
    assert not os.path.exists(prefix + ".key")
    t = Pty(dy, "key", "generate", "--output-key-prefix", prefix)
    try:
        t.expect(rb"Enter password for private key: ")
        t.send(b"abc\n")
        t.expect(rb"again: ")
        t.send(b"abc\n")
        assert t.wait() == 0, t.text
    finally:
        t.kill()
    from dockyard.sign import keys

    with open(prefix + ".key", "rb") as f:
        assert keys.load_private(f.read(), b"abc", "t.key").kind == "ECDSA P-256"
