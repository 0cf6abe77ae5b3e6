"""The optional packages signing needs (``pip install 'dockyard[sign]'``): ``cryptography`` for
ECDSA/RSA/Ed25519, PKCS#8 and scrypt, ``pynacl`` for nacl/secretbox. Imported only by the code
that signs or verifies, so ``dockyard run`` never pays for them (`dockyard.extras` finds them
under the launchers' ``python -S`` and names the extra when they are missing).
"""

from __future__ import annotations


def require(*modules: str) -> None:
    """Import ``modules`` (default: both packages) or raise Unavailable naming the extra."""
    from dockyard.extras import require as require_extra

    require_extra("sign", "signing", modules)
