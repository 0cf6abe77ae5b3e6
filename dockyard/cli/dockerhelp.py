"""docker CLI 28's help texts: captured from the binary (`docker CMD --help`, no daemon needed) into
a directory of text files, and read back as commands, sections and flags.

The capture runs with DOCKER_HOST pointing nowhere, so the CLI hides nothing for a daemon's sake
(version-gated flags show; Windows-only flags show too, and say "(Windows only)"). CLI plugins
(`compose*`, `buildx*`: marked with a star in `docker --help`) are not docker's own and are left out.
"""

from __future__ import annotations

import os
import re
import subprocess

NOWHERE = "unix:///nonexistent/docker.sock"  # no daemon: nothing is hidden or added for one
NO_CONFIG = "/nonexistent/docker-config"
TOP = "docker"
SWARM_SECTION = "Swarm Commands"  # `docker --help`'s own heading for them

_FLAG = re.compile(r"^  (?:(-[A-Za-z0-9]), )?(?:    )?(--[A-Za-z0-9][\w-]*)(?: ([a-z][\w-]*))?(?:\s{2,}(.*))?$")
_CMD = re.compile(r"^  ([a-z][\w-]*)(\*?)\s{2,}(.*)$")


class DockerFlag:
    __slots__ = ("short", "long", "type", "help")

    def __init__(self, short: str, long: str, type: str, help: str) -> None:
        self.short, self.long, self.type, self.help = short, long, type, help

    @property
    def windows_only(self) -> bool:
        return "(Windows only)" in self.help


class Help:
    """One command's help: its summary, aliases, subcommands by section, and flags."""

    def __init__(self, text: str) -> None:
        self.summary = ""
        self.aliases: list[str] = []
        self.sections: dict[str, list[str]] = {}
        self.flags: list[DockerFlag] = []
        section, seen_usage = "", False
        for line in text.splitlines():
            if not line.strip():
                continue
            if not line.startswith(" ") and line.rstrip().endswith(":"):
                section = line.strip()[:-1]
                continue
            if line.startswith("Usage:"):
                seen_usage = True
                continue
            if not line.startswith(" ") and seen_usage and not section and not self.summary:
                self.summary = line.strip()
                continue
            if section == "Aliases":
                self.aliases = [a.strip() for a in line.split(",") if a.strip()]
            elif section == "Options":
                m = _FLAG.match(line)
                if m:
                    self.flags.append(DockerFlag(m.group(1) or "", m.group(2), m.group(3) or "bool",
                                                 (m.group(4) or "").strip()))
                elif self.flags:  # a wrapped line of the last flag's help
                    self.flags[-1].help = f"{self.flags[-1].help} {line.strip()}".strip()
            elif section.endswith("Commands"):
                m = _CMD.match(line)
                if m and not m.group(2):  # a starred name is a CLI plugin, not docker's own
                    self.sections.setdefault(section, []).append(m.group(1))


def file_name(path: tuple[str, ...]) -> str:
    return "_".join((TOP,) + path) + ".txt"


def capture(dest: str, docker: str = "docker") -> dict[tuple[str, ...], str]:
    """Write `capture_texts` into `dest`, one file per command, plus VERSION. Returns the texts."""
    texts = capture_texts(docker)
    os.makedirs(dest, exist_ok=True)
    for old in os.listdir(dest):
        if old.endswith(".txt"):
            os.unlink(os.path.join(dest, old))
    for path, text in texts.items():
        with open(os.path.join(dest, file_name(path)), "w", encoding="utf-8") as f:
            f.write(text)
    with open(os.path.join(dest, "VERSION"), "w", encoding="utf-8") as f:
        f.write(_docker(docker, ["--version"]))
    return texts


def _env() -> dict:
    """No daemon, no user config (its aliases, plugins and paths would change the texts)."""
    env = dict(os.environ, DOCKER_HOST=NOWHERE, DOCKER_CONFIG=NO_CONFIG, DOCKER_CLI_HINTS="false", NO_COLOR="1",
               LC_ALL="C")
    for name in ("DOCKER_CONTEXT", "DOCKER_CERT_PATH", "DOCKER_TLS_VERIFY", "DOCKER_CLI_PLUGIN_EXTRA_DIRS"):
        env.pop(name, None)
    return env


def _docker(docker: str, args: list[str]) -> str:
    p = subprocess.run([docker, *args], env=_env(), capture_output=True, text=True, timeout=60,
                       stdin=subprocess.DEVNULL)
    if p.returncode != 0:
        raise RuntimeError(f"{docker} {' '.join(args)} failed ({p.returncode}): {p.stderr.strip()}")
    return p.stdout


def capture_texts(docker: str = "docker") -> dict[tuple[str, ...], str]:
    """`docker [PATH] --help` for every command reachable from `docker --help`, by path (the
    subcommands of Swarm's commands left out: the table lists those as out of scope)."""
    texts: dict[tuple[str, ...], str] = {}
    todo: list[tuple[str, ...]] = [()]
    while todo:
        path = todo.pop(0)
        texts[path] = _docker(docker, [*path, "--help"])
        for section, names in Help(texts[path]).sections.items():
            if section != SWARM_SECTION:  # out of scope: their help is not kept
                todo.extend(path + (n,) for n in names)
    return texts


def load(src: str) -> dict[tuple[str, ...], str]:
    """The texts `capture` wrote, walked from `docker --help` as it did."""
    texts: dict[tuple[str, ...], str] = {}
    todo: list[tuple[str, ...]] = [()]
    while todo:
        path = todo.pop(0)
        with open(os.path.join(src, file_name(path)), encoding="utf-8") as f:
            texts[path] = f.read()
        for section, names in Help(texts[path]).sections.items():
            if section != SWARM_SECTION:
                todo.extend(path + (n,) for n in names)
    return texts


def find_docker(want: str = "Docker version 28.") -> str | None:
    """A docker binary whose `--version` starts with `want`: $DOCKER, /usr/local/bin/docker (the
    machine's docker CLI 28; Debian's docker.io may be an older one on PATH), then PATH."""
    import shutil

    for cand in (os.environ.get("DOCKER"), "/usr/local/bin/docker", shutil.which("docker")):
        if cand and os.access(cand, os.X_OK):
            try:
                out = subprocess.run([cand, "--version"], capture_output=True, text=True, timeout=30).stdout
            except (OSError, subprocess.SubprocessError):
                continue
            if out.startswith(want):
                return cand
    return None


def version(src: str) -> str:
    with open(os.path.join(src, "VERSION"), encoding="utf-8") as f:
        return f.read().strip()
