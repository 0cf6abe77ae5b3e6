"""`dockyard key generate`, `dockyard sign`, `dockyard verify`: cosign's key-based signing.

Passwords come from ``--password-stdin``, else ``$COSIGN_PASSWORD`` (empty is a valid password,
as with cosign), else a prompt on a terminal. ``verify`` prints, as cosign does, the checks made
on stderr and the verified payloads as one JSON array on stdout; it exits 1 when none verifies.
"""

from __future__ import annotations

import os
import sys

from dockyard.cli.flags import BOOL, LIST, STR, Flag, UsageError, parse, usage
from dockyard.errors import InvalidArgument, PermissionDenied

PASSWORD_ENV = "COSIGN_PASSWORD"

GENERATE_FLAGS = [
    Flag("--output-key-prefix", STR, "Write PREFIX.key and PREFIX.pub (default cosign)", default="cosign",
         metavar="string"),
    Flag("--password-stdin", BOOL, "Read the password from stdin (else $COSIGN_PASSWORD, else a prompt)"),
    Flag("--help", BOOL, "Print usage"),
]
SIGN_FLAGS = [
    Flag("--key", STR, "Encrypted private key (cosign.key)", metavar="file"),
    Flag("-a,--annotations", LIST, "Extra key=value pairs signed in the payload's 'optional' section"),
    Flag("--password-stdin", BOOL, "Read the key's password from stdin (else $COSIGN_PASSWORD, else a prompt)"),
    Flag("--insecure", BOOL, "Allow plain HTTP and unverified TLS for this registry"),
    Flag("--help", BOOL, "Print usage"),
]
VERIFY_FLAGS = [
    Flag("--key", STR, "Public key (cosign.pub)", metavar="file"),
    Flag("--insecure", BOOL, "Allow plain HTTP and unverified TLS for this registry"),
    Flag("--help", BOOL, "Print usage"),
]


class NoValidSignature(PermissionDenied):
    """`verify` found no signature that checks."""


def _password(from_stdin: bool, confirm: bool) -> bytes:
    if from_stdin:
        return sys.stdin.buffer.read().rstrip(b"\n").rstrip(b"\r")
    env = os.environb.get(PASSWORD_ENV.encode())
    if env is not None:
        return env
    if sys.stdin is None or not sys.stdin.isatty():
        raise InvalidArgument("no password for the key: set $COSIGN_PASSWORD or use --password-stdin")
    import getpass

    first = getpass.getpass("Enter password for private key: ")
    if confirm and getpass.getpass("Enter password for private key again: ") != first:
        raise InvalidArgument("passwords do not match")
    return first.encode()


def _one(opts, cmd: str, synopsis: str) -> str:
    if len(opts.args) != 1:
        raise UsageError(f'"dockyard {cmd}" requires exactly 1 argument.',
                         hint=f"See 'dockyard {cmd} --help'.\n\nUsage:  dockyard {synopsis}")
    if not opts.key:
        raise UsageError(f"dockyard {cmd} needs --key (only key-based signing is supported: no keyless/OIDC)")
    return opts.args[0]


def cmd_key_generate(ctx, argv: list[str]) -> int:
    opts = parse(GENERATE_FLAGS, argv)
    if opts.help:
        print(usage("dockyard key generate [OPTIONS]", "Generate a cosign key pair (ECDSA P-256): "
                    "PREFIX.key (encrypted) and PREFIX.pub", GENERATE_FLAGS))
        return 0
    if opts.args:
        raise UsageError(f'"dockyard key generate" accepts no arguments (got {opts.args[0]!r})')
    prefix = opts.output_key_prefix
    if not prefix:
        raise UsageError("--output-key-prefix must not be empty")
    key_path, pub_path = prefix + ".key", prefix + ".pub"
    for p in (key_path, pub_path):
        if os.path.lexists(p):
            raise InvalidArgument(f"{p} already exists: not overwriting it", hint="remove it, or choose another "
                                  "--output-key-prefix")
    password = _password(opts.password_stdin, confirm=True)
    from dockyard.sign import keys

    private, public = keys.generate(password)
    fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(private)
    fd = os.open(pub_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    with os.fdopen(fd, "wb") as f:
        f.write(public)
    sys.stderr.write(f"Private key written to {key_path}\nPublic key written to {pub_path}\n")
    return 0


def _annotations(values: list[str]) -> dict:
    out = {}
    for v in values:
        k, eq, val = v.partition("=")
        if not eq or not k:
            raise InvalidArgument(f"invalid annotation {v!r}: use -a key=value")
        out[k] = val
    return out


def cmd_sign(ctx, argv: list[str]) -> int:
    opts = parse(SIGN_FLAGS, argv)
    synopsis = "sign --key cosign.key [-a key=value] REGISTRY/REPO[:TAG|@DIGEST]"
    if opts.help:
        print(usage(f"dockyard {synopsis}", "Sign an image in a registry; the signature is stored as cosign "
                    "stores it (the sha256-<hex>.sig tag)", SIGN_FLAGS))
        return 0
    name = _one(opts, "sign", synopsis)
    annotations = _annotations(opts.annotations)
    from dockyard.oci import reference
    from dockyard.sign import keys, remote
    from dockyard.sign import payload as pl

    ref = reference.parse(name)
    data = keys.read_file(opts.key, "key")
    signer = keys.load_private(data, _password(opts.password_stdin, confirm=False), f"key {opts.key}")
    import base64

    with remote.open_registry(ref, opts.insecure) as reg:
        scope = remote.scopes(ref, push=True)
        if ref.digest is None:
            ref = ref.with_default_tag()
            sys.stderr.write(f"Signing {ref.familiar()} by its tag: the signature is for the digest the tag "
                             "points to now\n")
        digest = remote.resolve(reg, ref, scope)
        body = pl.make(ref, digest, annotations)
        signature = base64.b64encode(signer.sign(body)).decode()
        sys.stderr.write(f"Pushing signature to: {ref.name}\n")
        public = signer.public()
        tag, added = remote.append_signature(reg, ref, digest, body, signature, scope,
                                             same_signer=lambda sig: public.verify(sig, body))
    if not added:
        sys.stderr.write("This key has already signed this payload: nothing added\n")
    print(f"{ref.name}:{tag}")
    return 0


def cmd_verify(ctx, argv: list[str]) -> int:
    opts = parse(VERIFY_FLAGS, argv)
    synopsis = "verify --key cosign.pub REGISTRY/REPO[:TAG|@DIGEST]"
    if opts.help:
        print(usage(f"dockyard {synopsis}", "Check an image's signatures (.sig tag and Sigstore bundle "
                    "referrers); print the verified payloads", VERIFY_FLAGS))
        return 0
    name = _one(opts, "verify", synopsis)
    from dockyard.oci import reference
    from dockyard.sign import keys, remote, verify
    from dockyard.sign import payload as pl

    ref = reference.parse(name)
    if ref.digest is None:
        ref = ref.with_default_tag()
    key = keys.load_public(keys.read_file(opts.key, "key"), f"key {opts.key}")
    with remote.open_registry(ref, opts.insecure) as reg:
        scope = remote.scopes(ref)
        digest = remote.resolve(reg, ref, scope)
        sigs = remote.all_signatures(reg, ref, digest, scope)
    if not sigs:
        raise NoValidSignature(f"no signatures found for {ref.familiar()} ({digest})")
    accepted, reasons = verify.verify_image(sigs, [key], ref.name, digest)
    if not accepted:
        raise NoValidSignature(f"no matching signatures for {ref.familiar()} ({digest}):\n  " + "\n  ".join(reasons))
    sys.stderr.write(f"\nVerification for {ref.familiar()} --\n"
                     "The following checks were performed on each of these signatures:\n"
                     "  - The cosign claims were validated\n"
                     "  - The signatures were verified against the specified public key\n")
    for reason in reasons:
        sys.stderr.write(f"(not counted: {reason})\n")
    out = []
    for ok in accepted:
        if ok.identity is None:
            out.append(ok.doc)
            continue
        out.append({"critical": {"identity": {"docker-reference": ok.identity},
                                 "image": {"docker-manifest-digest": digest}, "type": pl.SIGNATURE_TYPE},
                    "optional": ok.doc.get("optional")})
    sys.stdout.write(pl.go_json(out).decode() + "\n")
    return 0
