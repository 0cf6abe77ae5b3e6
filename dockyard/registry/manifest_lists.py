"""`manifest create/annotate/inspect/push/rm`: multi-platform manifest lists, as docker CLI 28's.

A list being assembled lives in the store, one directory per list under ``<root>/manifests``
(named as Docker names them under ~/.docker/manifests: ``host-port_repo-tag``), one JSON file per
entry: ``{"Ref", "Descriptor", "Raw", "OCIManifest"|"SchemaV2Manifest"}`` — the entry's manifest
as the registry served it (base64), its descriptor and the platform read from its image config
(changed by ``annotate``). Files are written atomically (temporary file, fsync, rename).

``push`` builds an OCI index when any entry is an OCI manifest, else a Docker manifest list
(``application/vnd.docker.distribution.manifest.list.v2+json``), makes sure every entry and its
blobs are in the list's repository (a cross-repository mount and a PUT by digest for entries of
another repository of the same registry, as Docker does) and PUTs the list under its tag.
"""

from __future__ import annotations

import base64
import json
import os

from dockyard import errors
from dockyard.oci import digest as dg
from dockyard.oci import mediatypes as mt

# GOOS/GOARCH pairs Go (and so docker manifest annotate) accepts
_VALID = {
    "aix": {"ppc64"}, "android": {"386", "amd64", "arm", "arm64"}, "darwin": {"amd64", "arm64"},
    "dragonfly": {"amd64"}, "freebsd": {"386", "amd64", "arm", "arm64", "riscv64"}, "illumos": {"amd64"},
    "ios": {"arm64"}, "js": {"wasm"}, "wasip1": {"wasm"},
    "linux": {"386", "amd64", "arm", "arm64", "loong64", "mips", "mipsle", "mips64", "mips64le", "ppc64",
              "ppc64le", "riscv64", "s390x"},
    "netbsd": {"386", "amd64", "arm", "arm64"}, "openbsd": {"386", "amd64", "arm", "arm64", "ppc64", "riscv64"},
    "plan9": {"386", "amd64", "arm"}, "solaris": {"amd64"}, "windows": {"386", "amd64", "arm", "arm64"},
}
MAX_MANIFEST = 4 << 20
MAX_CONFIG = 8 << 20
PLATFORM_KEYS = ("architecture", "os", "os.version", "os.features", "variant")


def safe_name(ref) -> str:
    return str(ref).replace(":", "-").replace("/", "_")


def parse_list(s: str):
    from dockyard.oci import reference

    try:
        return reference.parse(s).with_default_tag() if "@" not in s else reference.parse(s)
    except errors.BadReference as e:
        raise errors.BadReference(f"error parsing name for manifest list {s}: {e}") from None


def parse_entry(s: str):
    from dockyard.oci import reference

    ref = reference.parse(s)
    return ref if ref.digest else ref.with_default_tag()


def _dir(root: str, ref) -> str:
    return os.path.join(root, "manifests", safe_name(ref))


def _write_atomic(path: str, data: bytes) -> None:
    os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
    head, tail = os.path.split(path)
    tmp = os.path.join(head, f".{tail}.tmp{os.getpid()}")  # no reference starts with "."
    try:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def load_list(root: str, ref) -> list[dict] | None:
    """The entries of the local list ``ref`` (in name order, as Docker lists them), or None."""
    d = _dir(root, ref)
    try:
        names = sorted(n for n in os.listdir(d) if not n.startswith("."))  # ".…": a write under way
    except FileNotFoundError:
        return None
    return [_read_entry(os.path.join(d, n), ref) for n in names]


def _read_entry(path: str, lref) -> dict:
    """One entry file, checked: a damaged file is a clear error naming the list, never a traceback."""
    with open(path, "rb") as f:
        data = f.read()
    try:
        rec = json.loads(data)
        desc = rec["Descriptor"]
        ok = isinstance(rec.get("Ref"), str) and isinstance(rec.get("Raw"), str) and dg.is_valid(desc["digest"]) \
            and isinstance(desc["size"], int) and isinstance(desc.get("platform", {}), dict) \
            and desc["mediaType"] in mt.MANIFEST_TYPES
    except (ValueError, TypeError, KeyError, AttributeError):
        ok = False
    if not ok:
        raise errors.InvalidArgument(f"local manifest list {lref} is damaged ({os.path.basename(path)})",
                                     hint=f"remove it with `dockyard manifest rm {lref}` and create it again")
    return rec


def _registry(ref, insecure: bool):
    from dockyard.registry import credentials
    from dockyard.registry.client import Registry

    return Registry(ref.domain, insecure=insecure, credentials=credentials.get(ref.domain))


def fetch(reg, ref) -> tuple[bytes, str, str]:
    """(raw manifest, media type, digest) of ``ref``; 404 → docker's ``no such manifest``."""
    from dockyard.registry.pull import ACCEPT

    scopes = (f"repository:{ref.path}:pull",)
    with reg.request("GET", f"/v2/{ref.path}/manifests/{ref.digest or ref.tag}", headers={"Accept": ACCEPT},
                     scopes=scopes) as resp:
        if resp.status == 404:
            raise errors.ImageNotFound(f"no such manifest: {ref}")
        if resp.status != 200:
            raise reg.error(resp, f"fetching manifest {ref}")
        body = resp.read(MAX_MANIFEST)
        ctype = (resp.header("Content-Type") or "").split(";")[0].strip()
    digest = dg.sha256_of(body)
    if ref.digest and ref.digest != digest:
        raise errors.DigestMismatch(f"manifest {ref} from {reg.domain} hashes to {digest}")
    try:
        doc = json.loads(body)
    except (ValueError, UnicodeDecodeError) as e:
        raise errors.InvalidArgument(f"manifest {ref} is not valid JSON: {e}") from None
    if not isinstance(doc, dict):
        raise errors.InvalidArgument(f"manifest {ref} is not a JSON object")
    media = doc.get("mediaType") if isinstance(doc, dict) and isinstance(doc.get("mediaType"), str) else ctype
    if media not in mt.MANIFEST_TYPES | mt.INDEX_TYPES:
        media = mt.OCI_INDEX if isinstance(doc, dict) and "manifests" in doc else mt.OCI_MANIFEST
    return body, media, digest


def _platform(reg, ref, doc: dict) -> dict:
    config = doc.get("config") or {}
    digest = config.get("digest")
    if not isinstance(digest, str) or not dg.is_valid(digest):
        raise errors.InvalidArgument(f"manifest {ref} has no valid config descriptor")
    with reg.request("GET", f"/v2/{ref.path}/blobs/{digest}", scopes=(f"repository:{ref.path}:pull",),
                     follow=True) as resp:
        if resp.status != 200:
            raise reg.error(resp, f"fetching the image config of {ref}")
        body = resp.read(MAX_CONFIG)
    if dg.sha256_of(body) != digest:
        raise errors.DigestMismatch(f"image config {digest} of {ref} failed verification")
    try:
        cfg = json.loads(body)
        if not isinstance(cfg, dict):
            raise ValueError("not a JSON object")
    except (ValueError, UnicodeDecodeError) as e:
        raise errors.InvalidArgument(f"image config {digest} of {ref} is not valid: {e}") from None
    def text(key: str) -> str:  # a registry's config is input: strings only
        v = cfg.get(key)
        return v if isinstance(v, str) else ""

    plat = {"architecture": text("architecture"), "os": text("os")}
    if text("os.version"):
        plat["os.version"] = text("os.version")
    features = cfg.get("os.features")
    if isinstance(features, list) and features and all(isinstance(f, str) for f in features):
        plat["os.features"] = features
    if text("variant"):
        plat["variant"] = text("variant")
    return plat


def create(root: str, list_name: str, entries: list[str], *, amend: bool = False, insecure: bool = False) -> str:
    """Fetch each entry from its registry and store the list locally. Returns the list's name."""
    lref = parse_list(list_name)
    refs = [parse_entry(e) for e in entries]
    for r in refs:
        if r.domain != lref.domain:
            raise errors.InvalidArgument(f"cannot use source images from a different registry than the target "
                                         f"image: {r.domain} != {lref.domain}")
    d = _dir(root, lref)
    if os.path.isdir(d) and not amend:
        raise errors.AlreadyExists("refusing to amend an existing manifest list with no --amend flag")
    records = []
    with _registry(lref, insecure) as reg:
        for r in refs:
            body, media, digest = fetch(reg, r)
            if media in mt.INDEX_TYPES:
                raise errors.InvalidArgument(f"{r} is a manifest list", hint="a manifest list holds image manifests")
            doc = json.loads(body)
            desc = {"mediaType": media, "digest": digest, "size": len(body), "platform": _platform(reg, r, doc)}
            key = "OCIManifest" if media == mt.OCI_MANIFEST else "SchemaV2Manifest"
            records.append((r, {"Ref": str(r), "Descriptor": desc, "Raw": base64.b64encode(body).decode(), key: doc}))
    for r, rec in records:
        _write_atomic(os.path.join(d, safe_name(r)), json.dumps(rec, separators=(",", ":")).encode())
    return str(lref)


def annotate(root: str, list_name: str, entry: str, *, os_name: str | None = None, arch: str | None = None,
             os_version: str | None = None, os_features: list[str] | None = None,
             variant: str | None = None) -> None:
    lref, eref = parse_list(list_name), parse_entry(entry)
    path = os.path.join(_dir(root, lref), safe_name(eref))
    try:
        rec = _read_entry(path, lref)
    except FileNotFoundError:
        raise errors.NotFound(f"manifest for image {eref} does not exist in {lref}") from None
    plat = rec["Descriptor"].setdefault("platform", {})
    if os_name:
        plat["os"] = os_name
    if arch:
        plat["architecture"] = arch
    if os_version:
        plat["os.version"] = os_version
    if os_features:
        plat["os.features"] = list(os_features)
    if variant:
        plat["variant"] = variant
    if (os_name or arch) and plat.get("architecture") not in _VALID.get(plat.get("os") or "", ()):
        raise errors.InvalidArgument("manifest entry for image has unsupported os/arch combination: "
                                     f"{plat.get('os') or ''}/{plat.get('architecture') or ''}")
    rec["Descriptor"]["platform"] = {k: plat[k] for k in PLATFORM_KEYS if plat.get(k)}
    _write_atomic(path, json.dumps(rec, separators=(",", ":")).encode())


def index_of(entries: list[dict]) -> tuple[dict, str]:
    """The index (Docker's key order) and its media type for the local list's entries: an OCI
    index if any entry is an OCI manifest, else a Docker manifest list (as docker CLI 28 decides)."""
    oci = any(e["Descriptor"]["mediaType"] == mt.OCI_MANIFEST for e in entries)  # docker's rule
    media = mt.OCI_INDEX if oci else mt.DOCKER_MANIFEST_LIST
    manifests = []
    for e in entries:
        d = e["Descriptor"]
        item = {"mediaType": d["mediaType"], "size": d["size"], "digest": d["digest"]}
        plat = d.get("platform") or {}
        item["platform"] = {k: plat[k] for k in PLATFORM_KEYS if plat.get(k) or k in ("architecture", "os")}
        manifests.append(item)
    return {"schemaVersion": 2, "mediaType": media, "manifests": manifests}, media


def remove(root: str, names: list[str]) -> list[str]:
    """Remove local lists; returns docker's message for each one that does not exist."""
    from dockyard.fsutil import rmtree

    missing = []
    for n in names:
        ref = parse_list(n)
        d = _dir(root, ref)
        if not os.path.isdir(d):
            missing.append(f"No such manifest: {ref}")
            continue
        rmtree(d)
    return missing


def push(root: str, list_name: str, *, insecure: bool = False, purge: bool = False, say=None) -> str:
    """Push the local list ``list_name``; returns its digest. ``say(line)`` gets Docker's
    ``Pushed ref …`` line for each entry copied from another repository."""
    lref = parse_list(list_name)
    entries = load_list(root, lref)
    if not entries:
        raise errors.NotFound(f"No such manifest: {lref}")
    index, media = index_of(entries)
    body = json.dumps(index, indent=3).encode()
    scopes = (f"repository:{lref.path}:pull,push",)
    with _registry(lref, insecure) as reg:
        for e in entries:
            eref = parse_entry(e["Ref"])
            if eref.path != lref.path:
                _copy_entry(reg, eref, lref, e, scopes)
                if say is not None:
                    digest = e["Descriptor"]["digest"]
                    say(f"Pushed ref {lref.name}@{digest} with digest: {digest}")
        with reg.request("PUT", f"/v2/{lref.path}/manifests/{lref.tag or lref.digest}",
                         headers={"Content-Type": media}, body=body, scopes=scopes) as resp:
            if resp.status not in (200, 201, 202):
                raise reg.error(resp, f"pushing manifest list {lref}")
            resp.read()
    if purge:
        remove(root, [str(lref)])
    return dg.sha256_of(body)


def _copy_entry(reg, eref, lref, entry: dict, scopes: tuple[str, ...]) -> None:
    """An entry of another repository: mount its blobs into the list's repository, then PUT its
    manifest there by digest (the registry must hold every manifest an index names)."""
    from urllib.parse import quote

    doc = json.loads(base64.b64decode(entry["Raw"]))
    both = (*scopes, f"repository:{eref.path}:pull")
    for blob in [doc.get("config") or {}, *(doc.get("layers") or [])]:
        digest = blob.get("digest")
        with reg.request("HEAD", f"/v2/{lref.path}/blobs/{digest}", scopes=both) as resp:
            if resp.status == 200:
                continue
        with reg.request("POST", f"/v2/{lref.path}/blobs/uploads/?mount={quote(digest)}&from={quote(eref.path)}",
                         scopes=both) as resp:
            resp.read()
            location = resp.header("Location")
            if resp.status == 202 and location:  # no mount: give back the upload session it opened
                with reg.request("DELETE", location, scopes=both) as gone:
                    gone.read()
            if resp.status != 201:
                raise errors.Unavailable(f"cannot mount blob {digest} from {eref.path} into {lref.path}: the "
                                         f"registry answered {resp.status}",
                                         hint=f"push the image {eref} to {lref.name} first")
    desc = entry["Descriptor"]
    with reg.request("PUT", f"/v2/{lref.path}/manifests/{desc['digest']}",
                     headers={"Content-Type": desc["mediaType"]}, body=base64.b64decode(entry["Raw"]),
                     scopes=scopes) as resp:
        if resp.status not in (200, 201, 202):
            raise reg.error(resp, f"pushing manifest {eref} to {lref.name}")
        resp.read()


def _tabbed(raw: bytes) -> str:
    return json.dumps(json.loads(raw), indent="\t")


def inspect(root: str, first: str, second: str | None = None, *, insecure: bool = False,
            verbose: bool = False) -> str:
    """What ``docker manifest inspect`` prints: an entry of a local list (LIST MANIFEST); a local
    list; else the manifest or index the registry serves (-v: with its entries' manifests)."""
    if second is not None:
        lref, eref = parse_list(first), parse_entry(second)
        entries = load_list(root, lref)
        found = next((e for e in entries or () if e["Ref"] == str(eref)), None)
        if found is None:
            raise errors.NotFound(f"No such manifest: {eref}")
        return json.dumps(found, indent="\t") if verbose else _tabbed(base64.b64decode(found["Raw"]))
    ref = parse_entry(first)
    entries = load_list(root, ref) if ref.tag else None
    if entries:
        return json.dumps(entries, indent="\t") if verbose else json.dumps(index_of(entries)[0], indent=3)
    with _registry(ref, insecure) as reg:
        body, media, digest = fetch(reg, ref)
        if media not in mt.INDEX_TYPES:
            if not verbose:
                return _tabbed(body)
            return json.dumps(_record(reg, ref, body, media, digest, None), indent="\t")
        doc = json.loads(body)
        if not verbose:
            return json.dumps(doc, indent=3)
        out = []
        for d in doc.get("manifests") or []:
            if not isinstance(d, dict) or not dg.is_valid(d.get("digest") or ""):
                continue
            child = ref.with_digest(d["digest"])  # Docker's Ref keeps the tag: repo:tag@digest
            cbody, cmedia, cdigest = fetch(reg, child)
            out.append(_record(reg, child, cbody, cmedia, cdigest, d.get("platform")))
        return json.dumps(out, indent="\t")


def _record(reg, ref, body: bytes, media: str, digest: str, platform: dict | None) -> dict:
    doc = json.loads(body)
    desc = {"mediaType": media, "digest": digest, "size": len(body)}
    if media in mt.MANIFEST_TYPES:
        desc["platform"] = platform or _platform(reg, ref, doc)
    key = "OCIManifest" if media == mt.OCI_MANIFEST else "SchemaV2Manifest"
    return {"Ref": str(ref), "Descriptor": desc, "Raw": base64.b64encode(body).decode(), key: doc}
