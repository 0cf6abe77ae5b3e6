"""Image configs are checked when an image comes in (load, pull, import, commit, build), so a
crafted config is refused with a message then instead of breaking `run`, `stop` or -P later.

The checks: the types of every field the OCI and Docker specs define (`oci.image.ImageConfig`),
and the values dockyard hands to the kernel or to iptables as they are: environment entries,
command words and volume paths without NUL bytes, exposed ports in 1..65535 over tcp or udp,
labels as strings, a working directory that is absolute, a stop signal that exists.
"""

from __future__ import annotations

from dockyard.errors import DockyardError, InvalidArgument


def check_config(config) -> None:
    """InvalidArgument naming the first field of `config` (a decoded image config) that is wrong."""
    from dockyard.oci.image import ImageConfig

    try:
        ImageConfig.from_json(config)
    except DockyardError as e:
        raise InvalidArgument(f"invalid image config: {e}") from None
    except (TypeError, ValueError, AttributeError) as e:
        raise InvalidArgument(f"invalid image config: {e}") from None
    cc = config.get("config") or {}
    for key in ("Env", "Entrypoint", "Cmd", "OnBuild", "Shell"):
        for item in cc.get(key) or ():
            if "\0" in item:
                raise InvalidArgument(f"invalid image config: config.{key} holds a NUL byte")
    for item in cc.get("Env") or ():
        if not item.partition("=")[0]:
            raise InvalidArgument(f"invalid image config: config.Env entry {item!r} has no name")
    from dockyard.oci.ports import exposed_port

    for key, value in (cc.get("ExposedPorts") or {}).items():
        try:
            exposed_port(key)
        except InvalidArgument as e:
            raise InvalidArgument(f"invalid image config: config.ExposedPorts: {e}") from None
        if not isinstance(value, dict):
            raise InvalidArgument(f"invalid image config: config.ExposedPorts[{key!r}] is not an object")
    for key, value in (cc.get("Volumes") or {}).items():
        if not key.startswith("/") or "\0" in key or not isinstance(value, dict):
            raise InvalidArgument(f"invalid image config: config.Volumes key {key!r} is not an absolute path "
                                  "with an object")
    for key, value in (cc.get("Labels") or {}).items():
        if not isinstance(value, str):
            raise InvalidArgument(f"invalid image config: config.Labels[{key!r}] is not a string")
    for key in ("User", "WorkingDir", "StopSignal"):
        if "\0" in (cc.get(key) or ""):
            raise InvalidArgument(f"invalid image config: config.{key} holds a NUL byte")
    if cc.get("StopSignal"):
        from dockyard.signals import parse_signal

        try:
            parse_signal(cc["StopSignal"])
        except InvalidArgument:
            raise InvalidArgument(f"invalid image config: config.StopSignal {cc['StopSignal']!r} is not a "
                                  "signal") from None
