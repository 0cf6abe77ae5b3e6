"""Write Debian:12 OSV records from the CVE ids Debian's changelogs list as fixed (see README.md)."""

import gzip
import json
import os
import re
import sys

HEAD = re.compile(r"^(\S+) \(([^)]+)\) ([^;]+);", re.M)


def fixes(binary: str):
    with gzip.open(f"/usr/share/doc/{binary}/changelog.Debian.gz", "rt", errors="replace") as f:
        text = f.read()
    heads = list(HEAD.finditer(text))
    for i, m in enumerate(heads):
        body = text[m.end():heads[i + 1].start() if i + 1 < len(heads) else len(text)]
        if not any(d in ("bookworm", "bookworm-security") for d in m.group(3).split()):
            continue
        for cve in sorted(set(re.findall(r"CVE-\d{4}-\d{4,}", body))):
            yield m.group(1), m.group(2), cve


def main(out_dir: str, binaries: list[str]) -> None:
    os.makedirs(out_dir, exist_ok=True)
    records: dict[str, dict] = {}
    for b in binaries:
        for source, version, cve in fixes(b):
            rid = f"DEBIAN-{cve}"
            if rid in records:
                continue  # the newest entry naming a CVE comes first in a changelog; an older one repeats it
            records[rid] = {
                "schema_version": "1.6.0", "id": rid, "modified": "2026-01-01T00:00:00Z", "upstream": [cve],
                "details": f"{cve}: fixed in {source} {version} (debian/changelog of {b})",
                "affected": [{"package": {"ecosystem": "Debian:12", "name": source,
                                          "purl": f"pkg:deb/debian/{source}?arch=source"},
                              "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": version}]}]}],
            }
    for rid, doc in records.items():
        with open(os.path.join(out_dir, f"{rid}.json"), "w") as f:
            json.dump(doc, f, indent=2)
            f.write("\n")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2:])
