"""The host's platform in OCI/Go spelling (`amd64`, `arm64`, …), as image configs and indexes name it."""

from __future__ import annotations

import os


def go_arch() -> str:
    m = os.uname().machine
    return {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm", "i686": "386"}.get(m, m)


ARCH_ALIASES = {"x86_64": "amd64", "x86-64": "amd64", "aarch64": "arm64", "armhf": "arm", "armel": "arm", "i386": "386"}
OSES = ("linux", "windows", "darwin", "freebsd")


def parse_platform(text: str) -> tuple[str, str, str]:
    """`--platform` as containerd's platforms.Parse reads it: os[/arch[/variant]], or an
    architecture alone (the host's os). Returns (os, arch, variant); arch or variant may be ""."""
    parts = text.strip().lower().split("/")
    if not all(parts) or len(parts) > 3:
        raise ValueError(f'"{text}": unknown operating system or architecture: invalid argument')
    if len(parts) == 1:
        return (parts[0], "", "") if parts[0] in OSES else ("linux", ARCH_ALIASES.get(parts[0], parts[0]), "")
    arch = ARCH_ALIASES.get(parts[1], parts[1])
    return parts[0], arch, parts[2] if len(parts) == 3 else ""


def matches(config: dict, text: str) -> bool:
    """Whether an image config's os/architecture/variant is the platform `text` names (what it
    leaves out matches anything)."""
    os_, arch, variant = parse_platform(text)
    return (config.get("os", "").lower() == os_ and (not arch or config.get("architecture", "").lower() == arch)
            and (not variant or (config.get("variant") or "").lower() == variant))


def describe(config: dict) -> str:
    return "/".join(p for p in (config.get("os", ""), config.get("architecture", ""), config.get("variant", "")) if p)
