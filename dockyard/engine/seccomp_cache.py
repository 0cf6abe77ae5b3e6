"""Seccomp profiles (Docker's default, or the user's), resolved and compiled once per capability set.

Building the profile and compiling it to BPF costs tens of milliseconds of Python; `run` would
pay it on every start. The result depends only on the capability set, the architecture and our
own code, so it is cached on disk keyed by exactly those (the key includes the generator
modules' mtimes, so editing them invalidates the cache).
"""

from __future__ import annotations

from dockyard import jsonfast as json  # the C codec without `re` & co: a hot path

import os


def _code_stamp() -> str:
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    parts = []
    for name in ("seccomp.py", "seccomp_default.py", "syscall_table.py"):
        try:
            st = os.stat(os.path.join(here, "runtime", name))
            parts.append(f"{st.st_mtime_ns}:{st.st_size}")
        except OSError:
            parts.append("-")
    return ",".join(parts)


def default_seccomp(cache_dir: str, caps: list[str]) -> tuple[dict, bytes, int]:
    """(OCI profile for config.json, compiled BPF program, seccomp(2) flags)."""
    from dockyard.runtime.seccomp_default import docker_profile

    return _cached(cache_dir, "", docker_profile, caps)


def custom_seccomp(cache_dir: str, profile: dict, caps: list[str]) -> tuple[dict, bytes, int]:
    """The same for a Docker-format profile of the user's (`--security-opt seccomp=FILE`), cached
    under the digest of its canonical JSON."""
    import hashlib

    digest = hashlib.sha256(json.dumps(profile, sort_keys=True).encode()).hexdigest()[:32]
    return _cached(cache_dir, f"{digest}-", lambda: profile, caps)


def _cached(cache_dir: str, prefix: str, docker_format, caps: list[str]) -> tuple[dict, bytes, int]:
    from dockyard.linux.syscalls import cap_mask

    # A readable key instead of a hash: hashlib's OpenSSL import alone costs milliseconds.
    key = f"{prefix}{os.uname().machine}-{cap_mask(caps):x}-{_code_stamp().replace(':', '_').replace(',', '-')}"
    path = os.path.join(cache_dir, f"seccomp-{key}.json")
    try:
        with open(path) as f:
            d = json.load(f)
        return d["profile"], bytes.fromhex(d["bpf"]), d["flags"]
    except (OSError, ValueError, KeyError):
        pass
    from dockyard.runtime.seccomp import compile_profile, filter_flags
    from dockyard.runtime.seccomp_default import resolve

    profile = resolve(docker_format(), caps) or {}
    prog = compile_profile(profile) or b""
    flags = filter_flags(profile)
    os.makedirs(cache_dir, exist_ok=True)
    tmp = f"{path}.{os.getpid()}.tmp"
    with open(tmp, "w") as f:
        json.dump({"profile": profile, "bpf": prog.hex(), "flags": flags}, f)
    os.replace(tmp, path)
    return profile, prog, flags
