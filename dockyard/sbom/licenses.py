"""License strings as catalogued (Debian's DEP-5 names, npm and Python free text) → what SPDX and
CycloneDX accept: a known SPDX identifier stays one, anything else becomes a LicenseRef/name."""

from __future__ import annotations

import re

# SPDX identifiers these catalogers meet often; any other string is kept as a named license
SPDX_IDS = {i.lower(): i for i in (
    "0BSD", "Apache-2.0", "Artistic-2.0", "BSD-2-Clause", "BSD-3-Clause", "BSL-1.0", "CC0-1.0", "ISC", "MIT",
    "MIT-0", "MPL-2.0", "PSF-2.0", "Python-2.0", "Unlicense", "Zlib", "GPL-2.0-only", "GPL-2.0-or-later",
    "GPL-3.0-only", "GPL-3.0-or-later", "LGPL-2.1-only", "LGPL-2.1-or-later", "LGPL-3.0-only",
    "LGPL-3.0-or-later", "AGPL-3.0-only", "AGPL-3.0-or-later", "BlueOak-1.0.0", "X11", "curl", "OpenSSL")}


def spdx_id(text: str) -> str | None:
    return SPDX_IDS.get(text.strip().lower())


def license_ref(text: str) -> str:
    """A LicenseRef- identifier made of the characters SPDX allows (letters, digits, '.', '-')."""
    return "LicenseRef-" + (re.sub(r"[^A-Za-z0-9.-]+", "-", text.strip().replace("+", "-plus")).strip("-") or "unknown")
