"""Software bills of materials: catalog an image's packages (dpkg, apk, Python, npm, Go binaries,
busybox) and write them as SPDX 2.3 or CycloneDX 1.5 JSON. Never imported on the `run` path."""
