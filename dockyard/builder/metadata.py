"""The steps that change only the image config (ENV, LABEL, CMD, ENTRYPOINT, EXPOSE, VOLUME,
USER, WORKDIR, STOPSIGNAL, SHELL, HEALTHCHECK, ONBUILD): no layer, as Docker."""

from __future__ import annotations

import os

from dockyard.builder.state import State
from dockyard.errors import NotImplemented


def apply_metadata(instr, st: State, where: str) -> None:
    """Apply one config-only instruction to ``st``'s config (``where``: the Dockerfile's name)."""
    cc = st.cc
    kw = instr.keyword
    if kw == "ENV":
        env = {}
        for kv in cc.get("Env") or ():
            k, _, v = kv.partition("=")
            env[k] = v
        for k, v in instr.pairs:
            env[k] = v
        cc["Env"] = [f"{k}={v}" for k, v in env.items()]
    elif kw in ("LABEL", "MAINTAINER"):
        for k, v in instr.pairs:
            cc.setdefault("Labels", {})[k] = v
    elif kw == "CMD":
        cc["Cmd"] = command_argv(instr, cc)
    elif kw == "ENTRYPOINT":
        cc["Entrypoint"] = command_argv(instr, cc)
        cc["Cmd"] = None  # docker: ENTRYPOINT resets a CMD inherited from the base image
    elif kw == "EXPOSE":
        for p in instr.ports:
            cc.setdefault("ExposedPorts", {})[p if "/" in p else p + "/tcp"] = {}
    elif kw == "VOLUME":
        for p in instr.paths:
            cc.setdefault("Volumes", {})[p] = {}
    elif kw == "USER":
        cc["User"] = instr.user
    elif kw == "WORKDIR":
        cc["WorkingDir"] = os.path.normpath(os.path.join(cc.get("WorkingDir") or "/", instr.path))
    elif kw == "STOPSIGNAL":
        cc["StopSignal"] = instr.signal
    elif kw == "SHELL":
        cc["Shell"] = list(instr.shell)
    elif kw == "HEALTHCHECK":
        hc = {"Test": list(instr.test)}
        for name, attr in (("Interval", "interval"), ("Timeout", "timeout"), ("StartPeriod", "start_period"),
                           ("StartInterval", "start_interval"), ("Retries", "retries")):
            if getattr(instr, attr, 0):
                hc[name] = getattr(instr, attr)
        cc["Healthcheck"] = hc
    elif kw == "ONBUILD":
        cc.setdefault("OnBuild", []).append(instr.expression)
    else:
        raise NotImplemented(f"{where}:{instr.line}: {kw} is not supported by dockyard build yet")


def command_argv(instr, cc: dict) -> list[str]:
    """CMD/ENTRYPOINT as stored: the shell form runs through the stage's SHELL."""
    if instr.shell_form:
        return list(cc.get("Shell") or ["/bin/sh", "-c"]) + [instr.command]
    return list(instr.command)
