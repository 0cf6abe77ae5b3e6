"""containers-policy.json, as Podman and skopeo read it, enforced when an image is pulled.

Which file: ``--signature-policy FILE``, else ``<dockyard root>/policy.json``, else
``/etc/containers/policy.json``; with none of them there is nothing to enforce (Docker's
behaviour; Podman refuses to pull without a policy file).

Which requirements (containers/image's ``requirementsForImageRef``): under
``transports.docker``, the scope that is the image's full identity (``host/repo:tag`` or
``host/repo@digest``), else its repository, else each parent namespace up to the host, else
``*.domain`` wildcards from the most specific, else the ``""`` scope; else ``default``. Every
requirement of that list must allow the image.

Requirement types: ``insecureAcceptAnything``; ``reject``; ``sigstoreSigned`` with one of
``keyPath``, ``keyPaths``, ``keyData``, ``keyDatas`` (base64 of a PEM public key) and an optional
``signedIdentity`` (``matchExact``, ``matchRepoDigestOrExact``, the default, ``matchRepository``,
``exactReference``, ``exactRepository``, ``remapIdentity``). cosign's signatures name only a
repository, so (as containers-policy.json(5) says) only ``matchRepository`` and
``exactRepository`` accept them for a tag. ``signedBy`` (GPG), ``signedBaseLayer`` and
``sigstoreSigned`` with Fulcio, PKI or Rekor are parsed but refused when they apply: dockyard
cannot check them, and never lets an image pass a check it skipped.

Signatures are read from the registry as cosign stores them (``remote``): the manifest digest
the reference resolves to must carry an accepted signature. The check runs after the manifest
is fetched and before anything is downloaded, so a refused image leaves nothing in the store.
"""

from __future__ import annotations

import json
import os

from dockyard import errors

SYSTEM_POLICY = "/etc/containers/policy.json"
OWN_POLICY = "policy.json"  # under the dockyard root
MAX_POLICY = 4 << 20
IDENTITY_TYPES = {"matchExact": (), "matchRepoDigestOrExact": (), "matchRepository": (),
                  "exactReference": ("dockerReference",), "exactRepository": ("dockerRepository",),
                  "remapIdentity": ("prefix", "signedPrefix")}
REQUIREMENT_KEYS = {
    "insecureAcceptAnything": set(),
    "reject": set(),
    "signedBy": {"keyType", "keyPath", "keyPaths", "keyData", "signedIdentity"},
    "sigstoreSigned": {"keyPath", "keyPaths", "keyData", "keyDatas", "fulcio", "pki", "rekorPublicKeyPath",
                       "rekorPublicKeyPaths", "rekorPublicKeyData", "rekorPublicKeyDatas", "signedIdentity"},
    "signedBaseLayer": {"baseLayerIdentity"},
}
KEY_SOURCES = ("keyPath", "keyPaths", "keyData", "keyDatas")


class BadPolicy(errors.InvalidArgument):
    """A policy file that is not valid containers-policy.json."""


class PolicyDenied(errors.PermissionDenied):
    """The policy does not allow the image."""


class Requirement:
    __slots__ = ("type", "fields", "number")

    def __init__(self, doc: dict, number: int) -> None:
        self.type, self.fields, self.number = doc["type"], doc, number

    def describe(self) -> str:
        extra = [f"{k} {self.fields[k]}" for k in ("keyPath",) if isinstance(self.fields.get(k), str)]
        ident = self.fields.get("signedIdentity")
        if isinstance(ident, dict):
            extra.append(f"signedIdentity {ident.get('type')}")
        return f"requirement {self.number} ({self.type}{': ' + ', '.join(extra) if extra else ''})"


class Policy:
    __slots__ = ("path", "default", "docker")

    def __init__(self, path: str, default: list[Requirement], docker: dict[str, list[Requirement]]) -> None:
        self.path, self.default, self.docker = path, default, docker

    def requirements_for(self, ref) -> tuple[str, list[Requirement]]:
        """(where in the file, requirements) for a Reference, most specific scope first."""
        for scope in scopes_of(ref):
            if scope in self.docker:
                return f'transports.docker["{scope}"]', self.docker[scope]
        return "default", self.default


def scopes_of(ref) -> list[str]:
    """containers/image's docker PolicyConfigurationIdentity, then Namespaces, then ""."""
    identity = ref.name + (f"@{ref.digest}" if ref.digest else f":{ref.tag or 'latest'}")
    out = [identity]
    name = ref.name
    while True:
        out.append(name)
        if "/" not in name:
            break
        name = name.rsplit("/", 1)[0]
    host = name.split(":", 1)[0]
    while "." in host:
        host = host.split(".", 1)[1]
        out.append("*." + host)
    out.append("")
    return out


# ============================================================================ loading

def find(root: str | None, explicit: str | None) -> str | None:
    if explicit:
        return explicit
    if root:
        own = os.path.join(root, OWN_POLICY)
        if os.path.exists(own):
            return own
    return SYSTEM_POLICY if os.path.exists(SYSTEM_POLICY) else None


def load(path: str) -> Policy:
    try:
        with open(path, "rb") as f:
            data = f.read(MAX_POLICY + 1)
    except FileNotFoundError:
        raise errors.NotFound(f"signature policy {path}: no such file") from None
    except OSError as e:
        raise errors.PermissionDenied(f"cannot read signature policy {path}: {e.strerror}") from None
    if len(data) > MAX_POLICY:
        raise BadPolicy(f"signature policy {path} is too large")
    try:
        doc = json.loads(data)
    except (ValueError, UnicodeDecodeError, RecursionError) as e:
        raise BadPolicy(f"invalid signature policy in {path}: not JSON: {e}") from None
    return parse(doc, path)


def parse(doc, path: str = "<policy>") -> Policy:
    def bad(msg: str) -> BadPolicy:
        return BadPolicy(f"invalid signature policy in {path}: {msg}")

    if not isinstance(doc, dict):
        raise bad("not a JSON object")
    for k in doc:
        if k not in ("default", "transports"):
            raise bad(f'unknown key "{k}"')
    if "default" not in doc:
        raise bad('"default" is missing')
    default = _requirements(doc["default"], "default", bad)
    docker: dict[str, list[Requirement]] = {}
    transports = doc.get("transports", {})
    if not isinstance(transports, dict):
        raise bad('"transports" is not an object')
    for transport, scopes in transports.items():
        if not isinstance(scopes, dict):
            raise bad(f'transports["{transport}"] is not an object')
        for scope, reqs in scopes.items():
            where = f'transports["{transport}"]["{scope}"]'
            parsed = _requirements(reqs, where, bad)
            if transport == "docker":  # scopes are not validated, as containers/image does not: a
                docker[scope] = parsed     # scope such as "busybox" (not expanded) just never matches
    return Policy(path, default, docker)


def _requirements(value, where: str, bad) -> list[Requirement]:
    if not isinstance(value, list) or not value:
        raise bad(f"{where} must be a non-empty list of requirements")
    out = []
    for i, req in enumerate(value, 1):
        if not isinstance(req, dict) or not isinstance(req.get("type"), str):
            raise bad(f"{where} requirement {i} has no \"type\"")
        allowed = REQUIREMENT_KEYS.get(req["type"])
        if allowed is None:
            raise bad(f'{where} requirement {i}: unknown type "{req["type"]}"')
        for k in req:
            if k != "type" and k not in allowed:
                raise bad(f'{where} requirement {i} ({req["type"]}): unknown key "{k}"')
        if req["type"] == "sigstoreSigned":
            sources = [k for k in (*KEY_SOURCES, "fulcio", "pki") if k in req]
            if len(sources) != 1:
                raise bad(f"{where} requirement {i} (sigstoreSigned): exactly one of keyPath, keyPaths, keyData, "
                          f"keyDatas, fulcio, pki must be given (got {', '.join(sources) or 'none'})")
        if "signedIdentity" in req:
            _check_identity(req["signedIdentity"], f"{where} requirement {i}", bad)
        out.append(Requirement(req, i))
    return out


def _check_identity(ident, where: str, bad) -> None:
    if not isinstance(ident, dict) or ident.get("type") not in IDENTITY_TYPES:
        raise bad(f"{where}: signedIdentity must be an object with a type of {', '.join(IDENTITY_TYPES)}")
    needs = IDENTITY_TYPES[ident["type"]]
    for k in ident:
        if k != "type" and k not in needs:
            raise bad(f'{where}: signedIdentity {ident["type"]}: unknown key "{k}"')
    for k in needs:
        if not isinstance(ident.get(k), str) or not ident[k]:
            raise bad(f'{where}: signedIdentity {ident["type"]} needs "{k}"')


# ============================================================================ checking

def enforcer(root: str | None, explicit: str | None):
    """``check(reg, ref, digest)`` for the policy in force, or None when there is no policy file.
    The file is read and validated now, before anything is fetched."""
    path = find(root, explicit)
    if path is None:
        return None
    policy = load(path)
    return lambda reg, ref, digest: check(policy, reg, ref, digest)


def check(policy: Policy, reg, ref, digest: str) -> None:
    where, reqs = policy.requirements_for(ref)
    signatures = None
    for req in reqs:
        if req.type == "insecureAcceptAnything":
            continue
        refused = f"{ref.familiar()} is refused by signature policy {policy.path}, {where} {req.describe()}"
        if req.type == "reject":
            raise PolicyDenied(f"{refused}: the policy rejects this image")
        if req.type != "sigstoreSigned" or any(k in req.fields for k in ("fulcio", "pki")) or \
                any(k.startswith("rekor") for k in req.fields):
            raise errors.NotImplemented(f"{refused}: dockyard cannot check this requirement (GPG signatures, base "
                                        "layers, Fulcio, PKI and Rekor are not supported), so it cannot allow "
                                        "the image")
        keys = _keys(req, policy.path)
        if signatures is None:
            from dockyard.sign import remote

            signatures = remote.all_signatures(reg, ref, digest, remote.scopes(ref))
        _sigstore(req, keys, signatures, ref, digest, refused)


def _keys(req: Requirement, policy_path: str) -> list:
    import base64

    from dockyard.sign import keys

    f = req.fields
    out = []
    for k in ("keyPath", "keyPaths"):
        paths = f.get(k)
        for p in ([paths] if isinstance(paths, str) else paths if isinstance(paths, list) else []):
            if not isinstance(p, str):
                raise BadPolicy(f"{policy_path}: {req.describe()}: {k} must hold strings")
            full = p if os.path.isabs(p) else os.path.join(os.path.dirname(os.path.abspath(policy_path)), p)
            out.append(keys.load_public(keys.read_file(full, "policy key"), full))
    for k in ("keyData", "keyDatas"):
        datas = f.get(k)
        for d in ([datas] if isinstance(datas, str) else datas if isinstance(datas, list) else []):
            try:
                pem = base64.b64decode(d, validate=True)
            except (ValueError, TypeError):
                raise BadPolicy(f"{policy_path}: {req.describe()}: {k} is not base64") from None
            out.append(keys.load_public(pem, f"{k} of {req.describe()}"))
    if not out:
        raise BadPolicy(f"{policy_path}: {req.describe()}: no public keys")
    return out


def _sigstore(req: Requirement, keys: list, signatures: list, ref, digest: str, refused: str) -> None:
    from dockyard.sign.verify import Rejected, check as check_signature

    if not signatures:
        raise PolicyDenied(f"{refused}: a signature was required, but no signature exists")
    reasons = []
    ident = req.fields.get("signedIdentity") or {"type": "matchRepoDigestOrExact"}
    for sig in signatures:
        try:
            ok = check_signature(sig, keys, digest)
        except Rejected as e:
            reasons.append(str(e))
            continue
        if ok.identity is None:
            reasons.append(f"{ok.where}: a Sigstore bundle names no repository, which signedIdentity needs")
            continue
        if not identity_matches(ident, ref, ok.identity):
            reasons.append(f"{ok.where}: signature for identity {ok.identity!r} is not accepted "
                           f"(signedIdentity {ident['type']})")
            continue
        return
    raise PolicyDenied(f"{refused}: none of the signatures were accepted, reasons: " + "; ".join(reasons))


def identity_matches(ident: dict, image, signed: str) -> bool:
    """containers/image's ``PolicyReferenceMatch`` for an image Reference and a signature's
    docker-reference string."""
    from dockyard.oci import reference

    try:
        sig = reference.parse(signed)
    except errors.InvalidArgument:
        return False
    kind = ident["type"]
    if kind == "remapIdentity":
        image = _remap(image, ident["prefix"], ident["signedPrefix"])
        kind = "matchRepoDigestOrExact"
    if kind == "matchRepository":
        return sig.name == image.name
    if kind == "exactRepository":
        try:
            return sig.name == reference.parse(ident["dockerRepository"]).name
        except errors.InvalidArgument:
            return False
    if kind == "exactReference":
        try:
            want = reference.parse(ident["dockerReference"])
        except errors.InvalidArgument:
            return False
        return (want.tag or want.digest) is not None and str(sig) == str(want)
    if kind == "matchExact" or (kind == "matchRepoDigestOrExact" and image.digest is None):
        if (sig.tag is None) == (sig.digest is None):
            return False  # a signature naming only a repository (cosign's) cannot match exactly
        return str(sig) == str(image.with_default_tag() if image.digest is None else image)
    # a digest image: the same repository, in a signature that still names a tag or digest
    return sig.name == image.name and (sig.tag is not None or sig.digest is not None)


def _remap(image, prefix: str, signed_prefix: str):
    from dockyard.oci import reference

    full = str(image)
    if full == prefix or full.startswith(prefix.rstrip("/") + "/") or \
            (full.startswith(prefix) and full[len(prefix):len(prefix) + 1] in (":", "@")):
        try:
            return reference.parse(signed_prefix + full[len(prefix):])
        except errors.InvalidArgument:
            return image
    return image
