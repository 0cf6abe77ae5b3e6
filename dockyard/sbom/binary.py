"""Programs recognised by their own bytes, as syft's binary classifiers do: busybox (a static
busybox carries no package database; its version string says what it is)."""

from __future__ import annotations

import os
import re

from dockyard.sbom.gobin import search
from dockyard.sbom.model import BINARY, Package, purl

BUSYBOX = re.compile(rb"BusyBox\s+v(\d+\.\d+\.\d+)")


def catalog(fs, distro) -> list[Package]:
    out: list[Package] = []
    for path in sorted(p for p in fs.files if p.rsplit("/", 1)[-1] == "busybox"):
        if fs.regular(path) is None:
            continue
        fd = fs.open_fd(path)
        try:
            m = search(fd, BUSYBOX)
        finally:
            os.close(fd)
        if m:
            version = m.group(1).decode()
            out.append(Package(name="busybox", version=version, type=BINARY, locations=[path],
                               layer=fs.layer_of(path) or "", purl=purl("generic", "busybox", version)))
    return out
