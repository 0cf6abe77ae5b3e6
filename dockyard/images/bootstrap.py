"""Base images made offline from what this machine has: busybox-static, or debootstrap.

Docker Hub is often out of reach (air-gapped CI, this project's own machines), so `dockyard
bootstrap` builds the two base images users reach for first. Both are reproducible: file times
are clamped and the creation time is SOURCE_DATE_EPOCH, or the busybox binary's own mtime, so
bootstrapping twice gives the same image id.
"""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
import tempfile
import time

from dockyard.errors import InvalidArgument, NotFound, Unavailable
from dockyard.fsutil import unmount_below
from dockyard.oci.platform import go_arch

PATH_ENV = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
PASSWD = ("root:x:0:0:root:/root:/bin/sh\n"
          "daemon:x:1:1:daemon:/usr/sbin:/bin/false\n"
          "bin:x:2:2:bin:/bin:/bin/false\n"
          "sys:x:3:3:sys:/dev:/bin/false\n"
          "www-data:x:33:33:www-data:/var/www:/bin/false\n"
          "nobody:x:65534:65534:nobody:/home:/bin/false\n")
GROUP = ("root:x:0:\n" "daemon:x:1:\n" "bin:x:2:\n" "sys:x:3:\n" "adm:x:4:\n" "tty:x:5:\n" "disk:x:6:\n"
         "wheel:x:10:root\n" "www-data:x:33:\n" "users:x:100:\n" "nogroup:x:65534:\n")


def is_static_elf(path: str) -> bool:
    """True for an ELF executable with no PT_INTERP (no dynamic loader needed)."""
    with open(path, "rb") as f:
        ident = f.read(64)
        if ident[:4] != b"\x7fELF":
            return False
        is64 = ident[4] == 2
        endian = "<" if ident[5] == 1 else ">"
        if is64:
            phoff, = struct.unpack_from(endian + "Q", ident, 32)
            phentsize, phnum = struct.unpack_from(endian + "HH", ident, 54)
        else:
            phoff, = struct.unpack_from(endian + "I", ident, 28)
            phentsize, phnum = struct.unpack_from(endian + "HH", ident, 42)
        f.seek(phoff)
        table = f.read(phentsize * phnum)
    for i in range(phnum):
        p_type, = struct.unpack_from(endian + "I", table, i * phentsize)
        if p_type == 3:  # PT_INTERP
            return False
    return True


def _epoch(default: float) -> int:
    sde = os.environ.get("SOURCE_DATE_EPOCH")
    if sde:
        try:
            return int(sde)
        except ValueError:
            raise InvalidArgument(f"SOURCE_DATE_EPOCH must be an integer, got {sde!r}") from None
    return int(default)


def _rfc3339(t: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


def make_busybox_rootfs(dest: str, busybox: str) -> None:
    for d, mode in (("bin", 0o755), ("dev", 0o755), ("etc", 0o755), ("home", 0o755), ("proc", 0o555),
                    ("root", 0o700), ("sys", 0o555), ("tmp", 0o1777), ("usr/bin", 0o755), ("usr/sbin", 0o755),
                    ("sbin", 0o755), ("var/spool/mail", 0o755), ("var/www", 0o755)):
        p = os.path.join(dest, d)
        os.makedirs(p, exist_ok=True)
        os.chmod(p, mode)
    shutil.copy2(busybox, os.path.join(dest, "bin/busybox"))
    os.chmod(os.path.join(dest, "bin/busybox"), 0o755)
    listing = subprocess.run([busybox, "--list-full"], capture_output=True, text=True, check=True).stdout
    for rel in sorted(set(listing.split())):
        rel = rel.strip("/")
        if not rel or rel == "bin/busybox" or ".." in rel.split("/"):
            continue
        link = os.path.join(dest, rel)
        os.makedirs(os.path.dirname(link), exist_ok=True)
        if not os.path.lexists(link):
            os.symlink(os.path.relpath(os.path.join(dest, "bin/busybox"), os.path.dirname(link)), link)
    for name, text, mode in (("etc/passwd", PASSWD, 0o644), ("etc/group", GROUP, 0o644),
                             ("etc/shadow", "root:*:10933:0:99999:7:::\nnobody:*:10933:0:99999:7:::\n", 0o640),
                             ("etc/localtime", None, 0)):
        if text is None:
            continue
        p = os.path.join(dest, name)
        with open(p, "w") as f:
            f.write(text)
        os.chmod(p, mode)


def _add_image(engine, rootfs: str, tag: str, *, created: int, cmd: list[str], created_by: str,
               env: list[str] | None = None) -> str:
    from dockyard.images.layers import layer_from_dir

    with engine.lease():  # until the image is recorded, `rmi` keeps its layer
        desc, diff_id, _tar_size = layer_from_dir(engine.content, rootfs, tmp_dir=engine.tmp_dir(),
                                              mtime_clamp=created)
        config = {
            "architecture": go_arch(), "os": "linux", "created": _rfc3339(created),
            "config": {"Env": env or [PATH_ENV], "Cmd": cmd},
            "rootfs": {"type": "layers", "diff_ids": [diff_id]},
            "history": [{"created": _rfc3339(created), "created_by": created_by}],
        }
        image_id = engine.images.add(config, [desc], [tag])
    engine.images.ensure_unpacked(engine.images.resolve(image_id))
    return image_id


def bootstrap_busybox(engine, tag: str, busybox: str = "/bin/busybox") -> str:
    engine.images.normalize_tag(tag)  # a bad name fails before any work
    if not os.path.exists(busybox):
        raise NotFound(f"{busybox} not found", hint="install it: apt-get install -y busybox-static")
    if not is_static_elf(busybox):
        raise InvalidArgument(f"{busybox} is not statically linked",
                              hint="install Debian's busybox-static (apt-get install -y busybox-static)")
    created = _epoch(os.stat(busybox).st_mtime)
    from dockyard.ownership import owner_tag

    with tempfile.TemporaryDirectory(dir=engine.tmp_dir(), prefix=f"bootstrap-{owner_tag()}-") as d:
        make_busybox_rootfs(d, busybox)
        version = subprocess.run([busybox], capture_output=True, text=True).stdout.split("\n", 1)[0].strip()
        return _add_image(engine, d, tag, created=created, cmd=["sh"],
                          created_by=f"dockyard bootstrap busybox ({version or 'busybox'})")


def debian_mirror() -> str:
    """The Debian mirror this machine's apt uses (deb822 or one-line format)."""
    candidates = ["/etc/apt/sources.list.d/debian.sources", "/etc/apt/sources.list"]
    d = "/etc/apt/sources.list.d"
    if os.path.isdir(d):
        candidates += sorted(os.path.join(d, f) for f in os.listdir(d))
    for path in candidates:
        try:
            with open(path) as f:
                text = f.read()
        except OSError:
            continue
        for line in text.splitlines():
            parts = line.split()
            if parts[:1] == ["URIs:"] and len(parts) > 1 and "security" not in parts[1]:
                return parts[1]
            if parts[:1] == ["deb"] and len(parts) > 2:
                uri = next((p for p in parts[1:] if "://" in p), None)
                if uri and "security" not in uri:
                    return uri
    return "http://deb.debian.org/debian"


DEBOOTSTRAP_CACHE = "/var/cache/dockyard/debootstrap"


def bootstrap_debian(engine, tag: str, *, suite: str = "bookworm", include: list[str] = (),
                     mirror: str | None = None, variant: str = "minbase",
                     cache_dir: str | None = DEBOOTSTRAP_CACHE) -> str:
    """debootstrap into a temp dir and commit it as a one-layer image.

    Downloaded .debs are kept in `cache_dir` (debootstrap's --cache-dir), so a second bootstrap
    of the same suite does not download again.
    """
    engine.images.normalize_tag(tag)
    if shutil.which("debootstrap") is None:
        raise NotFound("debootstrap not found", hint="install it: apt-get install -y debootstrap")
    created = _epoch(time.time())
    from dockyard.ownership import owner_tag

    d = tempfile.mkdtemp(dir=engine.tmp_dir(), prefix=f"debootstrap-{owner_tag()}-")
    try:
        cmd = ["debootstrap", f"--variant={variant}"]
        if cache_dir:
            os.makedirs(cache_dir, exist_ok=True)
            cmd.append(f"--cache-dir={cache_dir}")
        if include:
            cmd.append("--include=" + ",".join(include))
        cmd += [suite, d, mirror or debian_mirror()]
        p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        if p.returncode != 0:
            tail = "\n".join(p.stdout.strip().splitlines()[-8:])
            raise Unavailable(f"debootstrap failed (exit {p.returncode}):\n{tail}")
        # As Debian's official images do: no package lists or caches in the image.
        for junk in ("var/lib/apt/lists", "var/cache/apt/archives", "var/log"):
            path = os.path.join(d, junk)
            if os.path.isdir(path):
                for name in os.listdir(path):
                    full = os.path.join(path, name)
                    if os.path.isfile(full) or os.path.islink(full):
                        os.unlink(full)
        what = f"debootstrap --variant={variant}" + (f" --include={','.join(include)}" if include else "") + \
            f" {suite}"
        return _add_image(engine, d, tag, created=created, cmd=["bash"], created_by=f"dockyard bootstrap: {what}")
    finally:
        unmount_below(d)  # debootstrap mounts /proc and /sys in its target; a failure may leave them
        shutil.rmtree(d, ignore_errors=True)
