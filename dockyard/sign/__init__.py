"""Supply-chain signing: cosign-compatible keys and image signatures, and a containers-policy.json
evaluator that pull, run and create enforce.

- ``deps``: the optional crypto packages (``cryptography``, ``pynacl``), imported only when needed.
- ``keys``: cosign's key files (ECDSA P-256 PKCS#8 in an scrypt + nacl/secretbox envelope).
- ``payload``: the simple-signing payload and the ``sha256-<hex>.sig`` naming (pure data).
- ``remote``: signatures in a registry: the ``.sig`` tag manifest and OCI 1.1 referrers.
- ``verify``: checks every signature of an image against public keys.
- ``policy``: containers-policy.json (default, transports.docker scopes, requirements).
"""
