"""Go binaries: the build information Go (1.18+) links into every binary (``runtime/debug``'s
``BuildInfo``), read from the ELF section ``.go.buildinfo`` as ``go version -m`` reads it.

The section starts with a 32-byte header: the magic ``\\xff Go buildinf:``, the pointer size,
and flags; flag 2 means the Go version and the module info follow as varint-prefixed strings.
The module info is framed by 16-byte sentinels and has lines ``path``, ``mod`` (main module),
``dep`` (dependencies), ``=>`` (the previous line's replacement) and ``build`` (settings).
Older binaries (pointer-based headers, Go < 1.18) are not read.
"""

from __future__ import annotations

import os
import re
import stat
import struct

from dockyard.sbom.model import GO, Package, purl

MAGIC = b"\xff Go buildinf:"
MAX_SECTION = 4 << 20
CHUNK = 1 << 20


class BuildInfo:
    __slots__ = ("go_version", "path", "main", "deps", "settings")

    def __init__(self) -> None:
        self.go_version = ""
        self.path = ""
        self.main: tuple[str, str] | None = None
        self.deps: list[tuple[str, str]] = []
        self.settings: dict[str, str] = {}


def _varint(buf: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while pos < len(buf):
        b = buf[pos]
        pos += 1
        value |= (b & 0x7F) << shift
        if not b & 0x80:
            return value, pos
        shift += 7
        if shift > 63:
            break
    raise ValueError("bad varint")


def _section(fd: int, name: bytes) -> bytes | None:
    """The bytes of ELF section ``name`` (None: not an ELF file or no such section)."""
    head = os.pread(fd, 64, 0)
    if len(head) < 52 or head[:4] != b"\x7fELF":
        return None
    is64, little = head[4] == 2, head[5] == 1
    e = "<" if little else ">"
    if is64:
        shoff, = struct.unpack_from(e + "Q", head, 0x28)
        shentsize, shnum, shstrndx = struct.unpack_from(e + "HHH", head, 0x3A)
    else:
        shoff, = struct.unpack_from(e + "I", head, 0x20)
        shentsize, shnum, shstrndx = struct.unpack_from(e + "HHH", head, 0x2E)
    if not shoff or not shnum or shnum > 4096 or shstrndx >= shnum or shentsize < (64 if is64 else 40):
        return None
    table = os.pread(fd, shentsize * shnum, shoff)
    if len(table) < shentsize * shnum:
        return None

    def sect(i: int) -> tuple[int, int, int]:
        off = i * shentsize
        if is64:
            nm, = struct.unpack_from(e + "I", table, off)
            fo, sz = struct.unpack_from(e + "QQ", table, off + 0x18)
        else:
            nm, = struct.unpack_from(e + "I", table, off)
            fo, sz = struct.unpack_from(e + "II", table, off + 0x10)
        return nm, fo, sz

    _, stroff, strsize = sect(shstrndx)
    names = os.pread(fd, min(strsize, 1 << 16), stroff)
    for i in range(shnum):
        nm, fo, sz = sect(i)
        end = names.find(b"\0", nm)
        if names[nm:end] == name:
            return os.pread(fd, min(sz, MAX_SECTION), fo)
    return None


def parse(section: bytes) -> BuildInfo | None:
    """Build info from a ``.go.buildinfo`` section (None: not the inline 1.18+ format)."""
    if len(section) < 32 or not section.startswith(MAGIC) or not section[15] & 2:
        return None
    pos = 32
    try:
        n, pos = _varint(section, pos)
        version = section[pos:pos + n].decode("utf-8", "replace")
        pos += n
        n, pos = _varint(section, pos)
    except ValueError:
        return None  # truncated: not build info we can read
    mod = section[pos:pos + n]
    if len(mod) >= 33 and mod[-17:-16] == b"\n":
        mod = mod[16:-16]
    info = BuildInfo()
    info.go_version = version
    last: list | None = None
    for line in mod.decode("utf-8", "replace").splitlines():
        f = line.split("\t")
        if f[0] == "path" and len(f) > 1:
            info.path = f[1]
        elif f[0] == "mod" and len(f) > 2:
            info.main = (f[1], f[2])
        elif f[0] == "dep" and len(f) > 2:
            info.deps.append((f[1], f[2]))
            last = info.deps
        elif f[0] == "=>" and len(f) > 2 and last:
            last[-1] = (f[1], f[2])  # the replacement is what was built
        elif f[0] == "build" and len(f) > 1:
            k, _, v = f[1].partition("=")
            info.settings[k] = v
    return info


def read_buildinfo(fd: int) -> BuildInfo | None:
    try:
        sec = _section(fd, b".go.buildinfo")
        return parse(sec) if sec else None
    except (ValueError, struct.error, OSError):
        return None


def catalog(fs, distro) -> list[Package]:
    out: list[Package] = []
    for path, e in sorted(fs.files.items()):
        if not stat.S_ISREG(e.mode) or not e.mode & 0o111 or e.size < 1024:
            continue
        try:
            fd = fs.open_fd(path)
        except OSError:
            continue
        try:
            info = read_buildinfo(fd)
            if info is not None:
                out.extend(packages(info, path, fs.layer_of(path) or "", fd))
        finally:
            os.close(fd)
    return out


def go_purl(module: str, version: str) -> str:
    """syft's golang purl: the first two path elements are the namespace, the third the name,
    the rest a subpath (``github.com/a/b/v3`` is ``pkg:golang/github.com/a/b@v#v3``)."""
    f = module.split("/")
    if len(f) <= 2:
        return purl("golang", f[-1], version, namespace="/".join(f[:-1]))
    out = purl("golang", f[2], version, namespace="/".join(f[:2]))
    return out + ("#" + "/".join(f[3:]) if len(f) > 3 else "")


def packages(info: BuildInfo, path: str, layer: str, fd: int | None = None) -> list[Package]:
    def pkg(name: str, version: str) -> Package:
        return Package(name=name, version=version, type=GO, locations=[path], layer=layer, ecosystem="Go",
                       purl=go_purl(name, version))

    out = []
    main, version = info.main if info.main else (info.path, "(devel)")
    if main:
        if version in ("(devel)", ""):
            version = main_version(info.settings, fd) or "(devel)"
        out.append(pkg(main, version))
    out.extend(pkg(n, v) for n, v in info.deps)
    if info.go_version.startswith("go"):
        out.append(pkg("stdlib", info.go_version))
        out[-1].purl = purl("golang", "stdlib", info.go_version.removeprefix("go"))
    return out


LDFLAGS = (re.compile(r"\.([gG]it)?([bB]uild)?[vV]ersion=(?P<version>v?\d+.\d+.\d+[-\w]*)"),
           re.compile(r"\.[tT]ag=(?P<version>v?\d+.\d+.\d+[-\w]*)"))
SEMVER_IN_BINARY = re.compile(rb"\x00(v?\d+\.\d+\.\d+(-[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?(\+[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?)\x00")


def main_version(settings: dict[str, str], fd: int | None) -> str:
    """The main module's version when Go recorded "(devel)", found as syft finds it: a version set
    by ``-ldflags -X ...version=``, else a NUL-framed semver in the binary, else a pseudo-version
    from the vcs settings."""
    for pat in LDFLAGS:
        m = pat.search(settings.get("-ldflags", ""))
        if m:
            v = m.group("version")
            return v if v.startswith("v") else "v" + v
    if fd is not None:
        m = search(fd, SEMVER_IN_BINARY)
        if m:
            v = m.group(1).decode()
            return v if v.startswith("v") else "v" + v
    return _pseudo_version(settings)


def search(fd: int, pattern: re.Pattern, overlap: int = 256) -> re.Match | None:
    """The first match of ``pattern`` in a file, read in overlapping chunks (never whole)."""
    off, tail = 0, b""
    while True:
        data = os.pread(fd, CHUNK, off)
        if not data:
            return None
        m = pattern.search(tail + data)
        if m:
            return m
        tail, off = data[-overlap:], off + len(data)


def _pseudo_version(settings: dict[str, str]) -> str:
    """A module pseudo-version (v0.0.0-YYYYMMDDhhmmss-abcdefabcdef) from vcs settings, as syft makes."""
    rev, when = settings.get("vcs.revision", ""), settings.get("vcs.time", "")
    if len(rev) < 12 or len(when) < 19:
        return ""
    stamp = when[:19].replace("-", "").replace("T", "").replace(":", "")
    return f"v0.0.0-{stamp}-{rev[:12]}"
