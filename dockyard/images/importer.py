"""`dockyard import`: any rootfs tarball (plain, gzip, zstd; file or stdin) as a one-layer image.

The tar is checked by unpacking it with the hardened extractor *before* anything is stored, so
a hostile tarball (`../` climbing out, hardlinks to files outside) is refused and leaves nothing
behind; symlinks in a path are resolved inside the root, as Docker and containerd resolve them,
so `a -> /` followed by `a/tmp/x` writes the layer's own /tmp/x and never the host's. A compressed tarball is kept as the layer blob byte for byte; a plain one is gzipped.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import time

from dockyard.errors import InvalidArgument
from dockyard.oci import image as oi

_CHANGE_INSTRUCTIONS = ("CMD", "ENTRYPOINT", "ENV", "EXPOSE", "LABEL", "USER", "WORKDIR", "VOLUME", "STOPSIGNAL",
                        "ONBUILD")


def apply_changes(config: dict, changes: list[str]) -> None:
    """`--change 'CMD ["sh"]'` and friends: the Dockerfile instructions docker import accepts."""
    for change in changes:
        instr, _, rest = change.strip().partition(" ")
        instr = instr.upper()
        rest = rest.strip()
        if instr not in _CHANGE_INSTRUCTIONS:
            raise InvalidArgument(f"{instr.lower()} is not a valid change command")  # dockerd's words
        if instr in ("CMD", "ENTRYPOINT"):
            if rest.startswith("["):
                try:
                    value = json.loads(rest)
                except json.JSONDecodeError:
                    value = None
                if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                    raise InvalidArgument(f"{instr}: not a JSON array of strings: {rest}")
            else:
                value = ["/bin/sh", "-c", rest]
            config["Cmd" if instr == "CMD" else "Entrypoint"] = value
        elif instr in ("ENV", "LABEL"):
            key = "Env" if instr == "ENV" else "Labels"
            pairs = _pairs(rest, instr)
            if instr == "ENV":
                env = [e for e in config.get("Env") or [] if e.partition("=")[0] not in dict(pairs)]
                config["Env"] = env + [f"{k}={v}" for k, v in pairs]
            else:
                config.setdefault(key, {}).update(dict(pairs))
        elif instr == "EXPOSE":
            for port in rest.split():
                num, _, proto = port.partition("/")
                lo, dash, hi = num.partition("-")
                if not all(p.isascii() and p.isdigit() and 0 < int(p) < 65536 for p in ((lo, hi) if dash else (lo,))):
                    raise InvalidArgument(f"invalid containerPort: {num}")  # dockerd's words (go-connections)
                if proto.lower() not in ("", "tcp", "udp", "sctp"):
                    raise InvalidArgument(f"invalid proto: {proto}")
                port = port if "/" in port else port + "/tcp"
                config.setdefault("ExposedPorts", {})[port] = {}
        elif instr == "VOLUME":
            vols = json.loads(rest) if rest.startswith("[") else rest.split()
            for v in vols:
                config.setdefault("Volumes", {})[v] = {}
        elif instr == "USER":
            config["User"] = rest
        elif instr == "WORKDIR":
            config["WorkingDir"] = rest
        elif instr == "STOPSIGNAL":
            config["StopSignal"] = rest
        elif instr == "ONBUILD":
            config.setdefault("OnBuild", []).append(rest)


def _pairs(rest: str, instr: str) -> list[tuple[str, str]]:
    import shlex

    words = shlex.split(rest)
    if words and "=" not in words[0]:  # legacy form: ENV KEY value with spaces
        if len(words) < 2:
            raise InvalidArgument(f"{instr} requires at least one argument")
        return [(words[0], rest.split(None, 1)[1].strip())]
    out = []
    for w in words:
        k, eq, v = w.partition("=")
        if not eq or not k:
            raise InvalidArgument(f"{instr}: expected KEY=VALUE, got {w!r}")
        out.append((k, v))
    return out


KNOWN_OS = ("aix", "android", "darwin", "dragonfly", "freebsd", "illumos", "ios", "js", "linux", "netbsd", "openbsd",
            "plan9", "solaris", "wasip1", "windows")
KNOWN_ARCH = ("386", "amd64", "arm", "arm64", "loong64", "mips", "mipsle", "mips64", "mips64le", "ppc64", "ppc64le",
              "riscv64", "s390x", "wasm")


def import_platform(text: str) -> tuple[str, str, str]:
    """--platform of docker import: (os, arch, variant), refused as containerd's platforms.Parse
    refuses an os or architecture it does not know."""
    from dockyard.oci.platform import go_arch, parse_platform

    try:
        os_, arch, variant = parse_platform(text)
    except ValueError as e:
        raise InvalidArgument(str(e)) from None
    if os_ not in KNOWN_OS or (arch and arch not in KNOWN_ARCH):
        raise InvalidArgument(f'"{text}": unknown operating system or architecture: invalid argument')
    return os_, arch or go_arch(), variant


def import_rootfs(engine, src, tag: str | None, *, changes: list[str] = (), message: str = "",
                  platform: str | None = None) -> str:
    """Import the tarball at path `src` (or a binary file object) and return the image id; the
    image's os/architecture are `platform`'s (docker import --platform), else the host's."""
    if tag:
        engine.images.normalize_tag(tag)
    plat = import_platform(platform) if platform else ("linux", _arch(), "")
    with engine.lease():  # until the image is recorded, `rmi` keeps its layer and snapshot
        return _import(engine, src, tag, changes=changes, message=message, platform=plat)


def _import(engine, src, tag: str | None, *, changes: list[str], message: str,
            platform: tuple[str, str, str]) -> str:
    from dockyard.archive.compression import detect, open_decompressed
    from dockyard.ownership import owner_tag

    with tempfile.NamedTemporaryFile(dir=engine.tmp_dir(), prefix=f"import-{owner_tag()}-") as tmp:
        f = open(src, "rb") if isinstance(src, str) else src
        try:
            shutil.copyfileobj(f, tmp, 1 << 20)
        finally:
            if isinstance(src, str):
                f.close()
        tmp.flush()
        if tmp.tell() == 0:
            raise InvalidArgument("the tarball is empty")
        tmp.seek(0)
        kind = detect(tmp.read(8))
        if kind not in ("none", "gzip", "zstd"):
            raise InvalidArgument(f"unsupported compression {kind}: use a plain, gzip or zstd tar")
        tmp.seek(0)
        h = hashlib.sha256()
        with open_decompressed(tmp) as plain:
            while chunk := plain.reader.read(1 << 20):
                h.update(chunk)
        diff_id = "sha256:" + h.hexdigest()
        tmp.seek(0)
        engine.snapshots.unpack_layer(diff_id, None, tmp, diff_id=diff_id)  # refuses hostile tars
        tmp.seek(0)
        if kind == "none":
            from dockyard.images.layers import ingest_gzip

            desc = ingest_gzip(engine.content, tmp)
        else:
            digest, size = engine.content.ingest_file(tmp)
            desc = {"mediaType": oi.OCI_LAYER_GZIP if kind == "gzip" else oi.OCI_LAYER_ZSTD,
                    "digest": digest, "size": size}
    now = time.time()
    created = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + f".{int(now % 1 * 1e9):09d}Z"
    ccfg: dict = {}
    apply_changes(ccfg, list(changes))
    os_, arch, variant = platform
    config = {"architecture": arch, "os": os_, **({"variant": variant} if variant else {}), "created": created,
              "config": ccfg, "rootfs": {"type": "layers", "diff_ids": [diff_id]},
              "history": [{"created": created, "created_by": "", "comment": message or "Imported from tarball"}]}
    return engine.images.add(config, [desc], [tag] if tag else [])


def _arch() -> str:
    from dockyard.oci.platform import go_arch

    return go_arch()
