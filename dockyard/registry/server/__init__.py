"""An OCI distribution-spec v1.1 registry server (``dockyard registry serve``) and its garbage
collector (``dockyard registry gc``).

Layout of the package, bottom up:

- ``errors``: the spec's error codes, their HTTP statuses and the ``{"errors": [...]}`` body.
- ``names``: the spec's grammar for repository names, tags, digests and ``Content-Range``. Every
  string from a URL passes through it before it is used for anything.
- ``manifests``: validates a pushed manifest or index and lists what it refers to.
- ``storage``: blobs in :class:`dockyard.content.store.ContentStore`, repository metadata (links,
  manifests, tags, referrers) in SQLite. Owns the rules that make gc safe next to a live server.
- ``uploads``: upload sessions as files under ``<root>/uploads``.
- ``auth``: htpasswd (bcrypt) Basic authentication.
- ``gc``: mark and sweep with a grace period.
- ``app``: the aiohttp handlers. The only module that imports aiohttp.
"""
