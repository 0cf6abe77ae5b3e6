"""The host's platform in OCI/Go spelling (`amd64`, `arm64`, …), as image configs and indexes name it."""

from __future__ import annotations

import os


def go_arch() -> str:
    m = os.uname().machine
    return {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm", "i686": "386"}.get(m, m)
