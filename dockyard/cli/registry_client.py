"""`dockyard pull`, `push`, `login`, `logout`: the registry client's commands, Docker's output.

Progress goes to stdout as Docker's does: on a terminal one line per layer redrawn in place
with a progress bar; otherwise plain lines (`<id>: Pull complete`), one per event. The registry
modules are imported only when a command runs.
"""

from __future__ import annotations

import os
import sys
import threading
import time

from dockyard.cli.flags import BOOL, STR, Flag, FlagError, UsageError, parse, usage
from dockyard.registry.progress import Progress  # a few lines, no imports of its own

PULL_FLAGS = [
    Flag("-a,--all-tags", BOOL, "Download all tagged images in the repository"),
    Flag("--platform", STR, "Set platform if server is multi-platform capable (linux/amd64 only)", metavar="string"),
    Flag("-q,--quiet", BOOL, "Suppress verbose output"),
    Flag("--insecure", BOOL, "Allow plain HTTP and unverified TLS for this registry"),
    Flag("--disable-content-trust", BOOL, "Skip image verification (only true: Docker Content Trust is not "
         "supported; signatures are checked by the signature policy)", default=True),
    Flag("--signature-policy", STR, "containers-policy.json to enforce (default <root>/policy.json, else "
         "/etc/containers/policy.json)", metavar="file"),
    Flag("--help", BOOL, "Print usage"),
]
PUSH_FLAGS = [
    Flag("-a,--all-tags", BOOL, "Push all tags of an image to the repository"),
    Flag("-q,--quiet", BOOL, "Suppress verbose output"),
    Flag("--insecure", BOOL, "Allow plain HTTP and unverified TLS for this registry"),
    Flag("--disable-content-trust", BOOL, "Skip image signing (only true: Docker Content Trust is not supported; "
         "sign with `dockyard sign`)", default=True),
    Flag("--platform", STR, "Push a platform-specific manifest: the image must be that platform's (dockyard images "
         "have one)", metavar="string"),
    Flag("--help", BOOL, "Print usage"),
]
LOGIN_FLAGS = [
    Flag("-u,--username", STR, "Username", metavar="string"),
    Flag("-p,--password", STR, "Password", metavar="string"),
    Flag("--password-stdin", BOOL, "Take the password from stdin"),
    Flag("--insecure", BOOL, "Allow plain HTTP and unverified TLS for this registry"),
    Flag("--help", BOOL, "Print usage"),
]
LOGOUT_FLAGS = [Flag("--help", BOOL, "Print usage")]

BAR_WIDTH = 50


# ============================================================================ progress renderers

def _progress(quiet: bool) -> Progress:
    if quiet:
        return Progress()
    if sys.stdout.isatty() and os.environ.get("TERM") != "dumb":
        return TtyProgress(sys.stdout)
    return PlainProgress(sys.stdout)


class PlainProgress(Progress):
    """One line per event; byte counts are not shown (nothing to redraw on a pipe)."""

    def __init__(self, out) -> None:
        self.out = out
        self._lock = threading.Lock()

    def line(self, text: str) -> None:
        with self._lock:
            self.out.write(text + "\n")
            self.out.flush()

    def status(self, ident: str, text: str) -> None:
        self.line(f"{ident}: {text}")


def _bar(current: int, total: int) -> str:
    """Docker's ``[=====>     ]  12.3MB/50MB``."""
    from dockyard.units import human_size

    if total <= 0:
        return human_size(current)
    filled = min(BAR_WIDTH, BAR_WIDTH * current // total)
    arrow = ">" if filled < BAR_WIDTH else ""
    bar = "=" * filled + arrow + " " * (BAR_WIDTH - filled - len(arrow))
    return f"[{bar}]  {human_size(current)}/{human_size(total)}"


class TtyProgress(Progress):
    """A block of lines (header, one per layer, trailing lines) redrawn in place."""

    def __init__(self, out) -> None:
        self.out = out
        self._lock = threading.Lock()
        self._items: list[str] = []          # plain lines, or "\0<ident>" for a layer row
        self._rows: dict[str, str] = {}
        self._drawn = 0
        self._last = 0.0

    def line(self, text: str) -> None:
        with self._lock:
            self._items.append(text)
            self._draw(force=True)

    def status(self, ident: str, text: str) -> None:
        with self._lock:
            if ident not in self._rows:
                self._items.append("\0" + ident)
            self._rows[ident] = text
            self._draw(force=True)

    def progress(self, ident: str, action: str, current: int, total: int) -> None:
        with self._lock:
            if ident not in self._rows:
                self._items.append("\0" + ident)
            self._rows[ident] = f"{action} {_bar(current, total)}"
            self._draw()

    def finish(self) -> None:
        with self._lock:
            self._draw(force=True)

    def _draw(self, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._last < 0.1:
            return
        self._last = now
        import shutil

        width = max(20, shutil.get_terminal_size((100, 24)).columns - 1)
        lines = []
        for item in self._items:
            text = f"{item[1:]}: {self._rows[item[1:]]}" if item.startswith("\0") else item
            lines.append(text[:width])  # never wrap: the cursor-up count must stay right
        buf = f"\x1b[{self._drawn}A" if self._drawn else ""
        buf += "".join(f"\r\x1b[2K{t}\n" for t in lines)
        self.out.write(buf)
        self.out.flush()
        self._drawn = len(lines)


# ============================================================================ commands

def _no_content_trust(opts, instead: str) -> None:
    """--disable-content-trust=false asks for Notary v1 signing or verification: refused (exit 125,
    as run's and build's refusal), never a pull or push without the trust asked for."""
    if not opts.disable_content_trust:
        raise FlagError(f"--disable-content-trust=false: Docker Content Trust (Notary v1) is not supported; {instead}")


def cmd_pull(ctx, argv: list[str]) -> int:
    opts = parse(PULL_FLAGS, argv)
    if opts.help:
        print(usage("dockyard pull [OPTIONS] NAME[:TAG|@DIGEST]", "Download an image from a registry", PULL_FLAGS))
        return 0
    if len(opts.args) != 1:
        raise UsageError('"dockyard pull" requires exactly 1 argument.',
                         hint="See 'dockyard pull --help'.\n\nUsage:  dockyard pull [OPTIONS] NAME[:TAG|@DIGEST]")
    _no_content_trust(opts, "require signatures with a signature policy (--signature-policy, containers-policy.json)")
    from dockyard.registry.pull import check_platform, pull

    check_platform(opts.platform)
    from dockyard.sign.policy import enforcer

    check = enforcer(ctx.engine.root, opts.signature_policy)
    names = [opts.args[0]]
    if opts.all_tags:  # docker: each tag in turn, then the repository's name
        from dockyard.registry.pull import list_tags

        names = [f"{opts.args[0]}:{t}" for t in list_tags(opts.args[0], insecure=opts.insecure)]
    result, downloaded = None, False
    for name in names:
        progress = _progress(opts.quiet)
        try:
            result = pull(ctx.engine, name, insecure=opts.insecure, platform=opts.platform, progress=progress,
                          check=check)
        finally:
            progress.finish()
        downloaded = downloaded or not result.up_to_date
        if not opts.quiet:
            print(f"Digest: {result.digest}")
            if not opts.all_tags:
                print(f"Status: {'Downloaded newer image' if downloaded else 'Image is up to date'} for "
                      f"{result.familiar}")
    if result is not None and opts.all_tags and not opts.quiet:  # dockerd: one status for the repository
        print(f"Status: {'Downloaded newer image' if downloaded else 'Image is up to date'} for "
              f"{result.familiar.rpartition(':')[0]}")
    if result is not None:
        print(result.reference.rpartition(":")[0] if opts.all_tags else result.reference)
    return 0


def cmd_push(ctx, argv: list[str]) -> int:
    opts = parse(PUSH_FLAGS, argv)
    if opts.help:
        print(usage("dockyard push [OPTIONS] NAME[:TAG]", "Upload an image to a registry", PUSH_FLAGS))
        return 0
    if len(opts.args) != 1:
        raise UsageError('"dockyard push" requires exactly 1 argument.',
                         hint="See 'dockyard push --help'.\n\nUsage:  dockyard push [OPTIONS] NAME[:TAG]")
    _no_content_trust(opts, "sign pushed images with `dockyard sign` (cosign-compatible signatures)")
    from dockyard.registry.push import push

    progress = _progress(opts.quiet)
    try:
        results = push(ctx.engine, opts.args[0], insecure=opts.insecure, all_tags=opts.all_tags, progress=progress,
                       platform=opts.platform)
    finally:
        progress.finish()
    from dockyard.sbom.attached import attach_pushed  # a build SBOM (build --sbom) goes along

    for ref, digest, message in attach_pushed(ctx.engine, results, insecure=opts.insecure):
        if digest is None:
            sys.stderr.write(f"WARNING: {ref}: {message}\n")
        elif not opts.quiet:
            print(message)
    if opts.quiet:
        for r in results:
            print(r.reference)
    return 0


def cmd_login(ctx, argv: list[str]) -> int:
    opts = parse(LOGIN_FLAGS, argv)
    if opts.help:
        print(usage("dockyard login [OPTIONS] [SERVER]",
                    "Log in to a registry.\nIf no server is specified, Docker Hub is used.", LOGIN_FLAGS))
        return 0
    if len(opts.args) > 1:
        raise UsageError('"dockyard login" requires at most 1 argument.',
                         hint="See 'dockyard login --help'.\n\nUsage:  dockyard login [OPTIONS] [SERVER]")
    from dockyard.errors import InvalidArgument
    from dockyard.registry import credentials
    from dockyard.registry.client import check_login

    domain = credentials.domain_of(opts.args[0]) if opts.args else "docker.io"
    username, password = opts.username, opts.password
    if password is not None and opts.password_stdin:
        raise UsageError("conflicting options: cannot specify both --password and --password-stdin")  # docker 28
    if password is not None:
        sys.stderr.write("WARNING! Using --password via the CLI is insecure. Use --password-stdin.\n")
    if opts.password_stdin:
        if not username:
            raise UsageError("Must provide --username with --password-stdin")
        password = sys.stdin.read().rstrip("\n").rstrip("\r")
    if not username and password is None:
        stored = credentials.get(domain)
        if stored is not None:
            print("Authenticating with existing credentials...")
            check_login(domain, stored, insecure=opts.insecure)
            print("Login Succeeded")
            return 0
    if not username or password is None:
        if sys.stdin is None or not sys.stdin.isatty():
            raise InvalidArgument("Cannot perform an interactive login from a non TTY device",
                                  hint="use --username and --password-stdin")
        if not username:
            username = input("Username: ").strip()
        if password is None:
            import getpass

            password = getpass.getpass("Password: ")
    if not username:
        raise InvalidArgument("Username cannot be empty")
    if not password:
        raise InvalidArgument("Password cannot be empty")
    creds = credentials.Credentials(username, password)
    check_login(domain, creds, insecure=opts.insecure)
    path = credentials.store(domain, creds)
    # docker CLI 28's warning; its advice (a credential helper) is not one dockyard can follow
    sys.stderr.write(f"\nWARNING! Your credentials are stored unencrypted in '{path}'.\n"
                     "Credential helpers (credsStore) are not supported by dockyard.\n\n")
    print("Login Succeeded")
    return 0


def cmd_logout(ctx, argv: list[str]) -> int:
    opts = parse(LOGOUT_FLAGS, argv)
    if opts.help:
        print(usage("dockyard logout [SERVER]",
                    "Log out from a registry.\nIf no server is specified, Docker Hub is used.", LOGOUT_FLAGS))
        return 0
    if len(opts.args) > 1:
        raise UsageError('"dockyard logout" requires at most 1 argument.',
                         hint="See 'dockyard logout --help'.\n\nUsage:  dockyard logout [SERVER]")
    from dockyard.registry import credentials

    domain = credentials.domain_of(opts.args[0]) if opts.args else "docker.io"
    key = credentials.erase(domain)
    # docker CLI 28 says so whether or not there were credentials to remove
    print(f"Removing login credentials for {key or credentials.server_key(domain)}")
    return 0
