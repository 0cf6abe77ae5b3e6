"""The build context filter: ``.dockerignore`` with Docker's rules (moby/patternmatcher and the
docker CLI's ``ignorefile`` reader).

* ``#`` at the start of a line is a comment; lines are trimmed; empty lines ignored;
* ``!pattern`` is an exception; patterns are applied in order and the last match wins;
* ``*`` any run of non-``/`` characters, ``?`` one non-``/`` character, ``[...]`` a class,
  ``**`` any number of directories (also none), ``\\`` escapes the next character;
* patterns are cleaned like Go's ``filepath.Clean`` and a leading ``/`` is dropped;
* a path is excluded if it or any of its parent directories matches;
* the Dockerfile and ``.dockerignore`` are always sent (the CLI appends ``!`` exceptions).
"""

from __future__ import annotations

import os
import posixpath
import re
TYPE_CHECKING = False  # typing is for annotations only: not imported on the cached build path
if TYPE_CHECKING:
    from typing import Iterable, Iterator

from dockyard import errors

__all__ = ["ContextFilter", "DockerignoreError", "read_dockerignore", "clean_path", "Pattern"]


class DockerignoreError(errors.InvalidArgument):
    pass


def clean_path(p: str) -> str:
    """Go's ``filepath.Clean`` for slash paths (``""`` → ``"."``)."""
    if not p:
        return "."
    rooted = p.startswith("/")
    out: list[str] = []
    for part in p.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            if out and out[-1] != "..":
                out.pop()
            elif not rooted:
                out.append("..")
            continue
        out.append(part)
    s = "/".join(out)
    if rooted:
        return "/" + s
    return s or "."


def read_dockerignore(text: str) -> list[str]:
    """The patterns of a ``.dockerignore`` file, normalised as the docker CLI does."""
    if text.startswith("\ufeff"):
        text = text[1:]
    out = []
    for raw in text.splitlines():
        if raw.startswith("#") or not raw.strip():
            continue
        out.append(_normalise(raw))
    return out


def _normalise(pat: str) -> str:
    pat = pat.strip()
    invert = pat.startswith("!")
    if invert:
        pat = pat[1:].strip()
    if pat:
        pat = clean_path(pat)
        if len(pat) > 1 and pat.startswith("/"):
            pat = pat[1:]
    return "!" + pat if invert else pat


_REGEX_SPECIAL = set(".+()|{}$")


class Pattern:
    """One compiled pattern (moby/patternmatcher semantics, Linux separator)."""

    __slots__ = ("text", "exclusion", "cleaned", "_kind", "_regex")

    def __init__(self, text: str) -> None:
        self.text = text
        p = text.strip()
        self.exclusion = p.startswith("!")
        if self.exclusion:
            if len(p) == 1:
                raise DockerignoreError('illegal exclusion pattern: "!"')
            p = p[1:]
        self.cleaned = clean_path(p)
        self._kind, self._regex = self._compile(self.cleaned)

    def __repr__(self) -> str:
        return f"Pattern({self.text!r})"

    @staticmethod
    def _compile(pattern: str) -> tuple[str, re.Pattern[str] | None]:
        reg = ["^"]
        kind = "exact"
        i, n = 0, len(pattern)
        first = True
        while i < n:
            ch = pattern[i]
            i += 1
            if ch == "*":
                if i < n and pattern[i] == "*":
                    i += 1
                    if i < n and pattern[i] == "/":
                        i += 1
                    if i >= n:
                        if kind == "exact":
                            kind = "prefix"
                        else:
                            reg.append(".*")
                            kind = "regexp"
                    else:
                        reg.append("(.*/)?")
                        kind = "regexp"
                    if first:
                        kind = "suffix"
                else:
                    reg.append("[^/]*")
                    kind = "regexp"
            elif ch == "?":
                reg.append("[^/]")
                kind = "regexp"
            elif ch in _REGEX_SPECIAL:
                reg.append("\\" + ch)
            elif ch == "\\":
                if i < n:
                    reg.append(re.escape(pattern[i]))
                    i += 1
                else:
                    reg.append("\\\\")
                kind = "regexp"
            elif ch in "[]":
                reg.append(ch)
                kind = "regexp"
            elif ch == "^" and reg and reg[-1] == "[":
                reg.append("^")
            else:
                reg.append(ch)  # as moby: other characters go to the regexp as they are
            first = False
        if kind != "regexp":
            return kind, None
        reg.append("$")
        try:
            return kind, re.compile("".join(reg), re.DOTALL)
        except re.error as e:
            raise DockerignoreError(f"bad pattern {pattern!r}: {e}") from None

    def match(self, path: str) -> bool:
        k = self._kind
        if k == "exact":
            return path == self.cleaned
        if k == "prefix":
            return path.startswith(self.cleaned[:-2])
        if k == "suffix":
            suffix = self.cleaned[2:]
            if path.endswith(suffix):
                return True
            return suffix.startswith("/") and path == suffix[1:]
        assert self._regex is not None
        return self._regex.match(path) is not None


class ContextFilter:
    """Which paths of a build context are sent. Paths are relative, with ``/`` separators."""

    def __init__(self, patterns: Iterable[str] = (), *, dockerfile: str | None = "Dockerfile",
                 keep_sent: bool = True) -> None:
        pats = [_normalise(x) for x in patterns if x.strip()]
        self.user_patterns = list(pats)
        # the docker CLI always sends these two, whatever the patterns say; COPY/ADD do not copy
        # them when the patterns exclude them (dockerd removes them from the context it got):
        # that filter is keep_sent=False
        keep = [".dockerignore"] if keep_sent else []
        if dockerfile and keep_sent:
            df = clean_path(dockerfile.replace(os.sep, "/"))
            if df.startswith("/"):
                df = df[1:]
            keep.append(df)
        if pats:
            pats += ["!" + k for k in keep]
        self.patterns = [Pattern(p) for p in pats]
        self.has_exclusions = any(p.exclusion for p in self.patterns)

    @classmethod
    def from_text(cls, text: str, *, dockerfile: str | None = "Dockerfile", keep_sent: bool = True) -> "ContextFilter":
        return cls(read_dockerignore(text), dockerfile=dockerfile, keep_sent=keep_sent)

    @classmethod
    def from_file(cls, path: str, *, dockerfile: str | None = "Dockerfile") -> "ContextFilter":
        """From a ``.dockerignore`` path; a missing file means nothing is excluded."""
        try:
            with open(path, encoding="utf-8", errors="surrogateescape") as f:
                text = f.read()
        except FileNotFoundError:
            return cls((), dockerfile=dockerfile)
        except OSError as e:
            raise DockerignoreError(f"cannot read {path}: {e.strerror}") from e
        return cls.from_text(text, dockerfile=dockerfile)

    def excluded(self, relpath: str) -> bool:
        """True if ``relpath`` (or one of its parent directories) is ignored."""
        path = clean_path(relpath.replace(os.sep, "/"))
        if path.startswith("/"):
            path = path[1:] or "."
        parent = posixpath.dirname(path) or "."
        parents = parent.split("/") if parent != "." else []
        matched = False
        for pat in self.patterns:
            if pat.exclusion != matched:
                continue
            m = pat.match(path)
            if not m:
                for i in range(len(parents)):
                    if pat.match("/".join(parents[: i + 1])):
                        m = True
                        break
            if m:
                matched = not pat.exclusion
        return matched

    def may_reinclude(self, reldir: str) -> bool:
        """Whether the excluded directory ``reldir`` must still be entered: an exception pattern
        starts with ``reldir/`` (moby's rule; one whose wildcards would reach in does not count,
        as in Docker's own walk: ``dir`` + ``!**/keep`` sends nothing of ``dir``)."""
        prefix = reldir + "/"
        return any(p.exclusion and (p.cleaned + "/").startswith(prefix) for p in self.patterns)

    def walk(self, root: str) -> Iterator[str]:
        """Relative paths (files, directories, symlinks) under ``root`` that are sent, in sorted
        order, parents before children. Excluded directories are not entered unless an
        exception pattern names something inside them (moby's rule)."""

        def rec(absdir: str, reldir: str) -> Iterator[str]:
            try:
                entries = sorted(os.scandir(absdir), key=lambda e: e.name)
            except OSError:
                return
            for e in entries:
                rel = f"{reldir}/{e.name}" if reldir else e.name
                is_dir = e.is_dir(follow_symlinks=False)
                if self.excluded(rel):
                    if is_dir and self.has_exclusions and self.may_reinclude(rel):
                        yield from rec(e.path, rel)
                    continue
                yield rel
                if is_dir:
                    yield from rec(e.path, rel)

        yield from rec(root, "")
