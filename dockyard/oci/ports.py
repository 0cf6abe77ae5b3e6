"""Exposed-port keys of an image config (`80/tcp`, `53/udp`, `8080`): pure data, no I/O."""

from __future__ import annotations

from dockyard.errors import InvalidArgument


def exposed_port(key) -> tuple[int, str]:
    """An image's ExposedPorts key → (port, proto); InvalidArgument for anything else (a port
    outside 1..65535, a protocol dockyard does not publish, a crafted key)."""
    port, _, proto = key.partition("/") if isinstance(key, str) else ("", "", "")
    proto = proto or "tcp"
    if not (port.isascii() and port.isdigit() and len(port) <= 5 and 0 < int(port) <= 65535):
        raise InvalidArgument(f"the image exposes an invalid port {key!r}: ports are 1 to 65535")
    if proto not in ("tcp", "udp"):
        raise InvalidArgument(f"the image exposes {key!r}: dockyard publishes tcp and udp ports only")
    return int(port), proto
