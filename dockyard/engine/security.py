"""`--security-opt`: every value is honoured or refused, never ignored.

Honoured: `no-new-privileges[=|:true|false]`; `seccomp=unconfined`, `seccomp=builtin` (Docker's
default profile) and `seccomp=<profile>` (Docker's JSON format; the CLI reads the file and stores
its compact JSON, as docker's CLI sends it to dockerd); `systempaths=unconfined` (no masked or
read-only /proc paths); `label=disable` (no SELinux labels: there are none on this host either);
`apparmor=unconfined` while the host has no AppArmor (nothing to confine with). Anything else —
AppArmor profiles, SELinux labels, unknown keys — is refused with a message naming it.
Docker's deprecated `key:value` spelling is accepted and stored as `key=value`.
"""

from __future__ import annotations

import os

from dockyard.errors import InvalidArgument

PROFILE_MAX = 4 << 20  # a seccomp profile larger than this is not one (Docker's default: 20 KiB)


class SecurityOpts:
    __slots__ = ("no_new_privileges", "seccomp", "unmask_paths")

    def __init__(self) -> None:
        self.no_new_privileges = False
        self.seccomp: str | dict = "builtin"   # "builtin", "unconfined", or a Docker-format profile
        self.unmask_paths = False


def read_profiles(values, cwd: str | None = None) -> tuple[str, ...]:
    """The CLI's half (docker/cli parseSecurityOpts): `seccomp=PATH` becomes `seccomp=<JSON>`,
    read now from the caller's filesystem; `:` separators become `=`."""
    out = []
    for raw in values:
        key, sep, value = _split(raw)
        if (not sep or not value) and key != "no-new-privileges":  # docker's CLI refuses these itself
            raise InvalidArgument(f'Invalid --security-opt: "{raw}"')
        if key == "seccomp" and sep and value not in ("unconfined", "builtin") and not value.lstrip().startswith("{"):
            path = os.path.join(cwd or os.getcwd(), value)
            try:
                with open(path, "rb") as f:
                    data = f.read(PROFILE_MAX + 1)
            except OSError as e:
                raise InvalidArgument(f"opening seccomp profile ({value}) failed: {e.strerror}") from None
            if len(data) > PROFILE_MAX:
                raise InvalidArgument(f"seccomp profile ({value}) is larger than {PROFILE_MAX >> 20} MiB")
            profile = _load_json(data, f"seccomp profile ({value})")
            from dockyard import jsonfast

            value = jsonfast.dumps(profile)
        out.append(f"{key}={value}" if sep else key)
    return tuple(out)


def parse(values) -> SecurityOpts:
    """The engine's half: check every value (at create, whatever the caller) and say what it means."""
    out = SecurityOpts()
    for raw in values:
        key, sep, value = _split(raw)
        if key == "no-new-privileges":
            out.no_new_privileges = _bool(value, raw) if sep else True
        elif key == "seccomp" and sep:
            if value in ("unconfined", "builtin"):
                out.seccomp = value
            elif value.lstrip().startswith("{"):
                out.seccomp = _check_profile(value)
            else:
                raise InvalidArgument(f"invalid --security-opt {raw!r}: seccomp takes unconfined, builtin or "
                                      "a profile file")
        elif key == "systempaths" and sep:
            if value != "unconfined":
                raise InvalidArgument(f"invalid --security-opt {raw!r}: systempaths takes only 'unconfined'")
            out.unmask_paths = True
        elif key == "label" and sep:
            if value != "disable":
                raise InvalidArgument(f"invalid --security-opt {raw!r}: SELinux labels are not supported by "
                                      "dockyard (only label=disable, which is what every container gets)")
        elif key == "apparmor" and sep:
            if value != "unconfined":
                raise InvalidArgument(f"invalid --security-opt {raw!r}: AppArmor profiles are not supported by "
                                      "dockyard")
            if apparmor_enabled():
                raise InvalidArgument(f"invalid --security-opt {raw!r}: this host has AppArmor, and dockyard "
                                      "does not manage AppArmor profiles")
        else:
            raise InvalidArgument(f"invalid --security-opt: {raw!r}",
                                  hint="dockyard knows no-new-privileges, seccomp=, systempaths=unconfined, "
                                       "label=disable and apparmor=unconfined")
    return out


def apparmor_enabled() -> bool:
    try:
        with open("/sys/module/apparmor/parameters/enabled") as f:
            return f.read().strip() == "Y"
    except OSError:
        return False


def _split(raw: str) -> tuple[str, str, str]:
    if not isinstance(raw, str):
        raise InvalidArgument(f"invalid --security-opt: {raw!r}")
    eq, colon = raw.find("="), raw.find(":")
    if eq < 0 or 0 <= colon < eq:  # docker still reads the deprecated `key:value`
        return raw.partition(":")
    return raw.partition("=")


def _bool(value: str, raw: str) -> bool:
    v = value.lower()
    if v in ("1", "t", "true"):
        return True
    if v in ("0", "f", "false"):
        return False
    raise InvalidArgument(f"invalid --security-opt {raw!r}: no-new-privileges takes true or false")


def _load_json(data: bytes, what: str) -> dict:
    from dockyard import jsonfast

    try:
        profile = jsonfast.loads(data.decode("utf-8"))
    except UnicodeDecodeError:
        raise InvalidArgument(f"{what} is not UTF-8 text") from None
    except (ValueError, RecursionError) as e:
        raise InvalidArgument(f"{what} is not valid JSON: {e}") from None
    if not isinstance(profile, dict):
        raise InvalidArgument(f"{what} is not a JSON object")
    return profile


def _check_profile(text: str) -> dict:
    from dockyard.errors import DockyardError
    from dockyard.runtime.seccomp_default import check_profile

    profile = _load_json(text.encode("utf-8", "surrogatepass"), "seccomp profile")
    try:
        check_profile(profile)
    except DockyardError as e:
        raise InvalidArgument(f"invalid seccomp profile: {e}") from None
    return profile


def seccomp_program(cache_dir: str, opts: SecurityOpts, caps: list[str]) -> tuple[dict, bytes, int] | None:
    """(OCI linux.seccomp, BPF program, seccomp(2) flags) for a container, None when unconfined."""
    from dockyard.engine.seccomp_cache import custom_seccomp, default_seccomp

    if opts.seccomp == "unconfined":
        return None
    if opts.seccomp == "builtin":
        return default_seccomp(cache_dir, caps)
    return custom_seccomp(cache_dir, opts.seccomp, caps)
