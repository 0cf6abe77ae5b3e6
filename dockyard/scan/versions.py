"""Version ordering per ecosystem, as each ecosystem defines it: dpkg (Debian policy 5.6.12:
epochs, ``~`` before anything), apk (Alpine's suffixes and ``-rN``), PEP 440 (PyPI) and SemVer 2.0
(npm, Go with its ``v`` prefix). ``key(ecosystem, version)`` gives a sortable key; versions that
an ecosystem cannot read raise `ValueError` (the matcher then skips that range, never guesses)."""

from __future__ import annotations

import re

# -- dpkg ---------------------------------------------------------------------------------------


def _dpkg_order(c: str) -> int:
    if c == "~":
        return -1
    if c.isdigit():
        return 0
    if not c:
        return 0
    if c.isalpha():
        return ord(c)
    return ord(c) + 256


def _verrevcmp_key(s: str) -> tuple:
    """A key ordering strings as dpkg's verrevcmp: alternating non-digit runs (by _dpkg_order of
    each character, then the end, which sorts after '~' but before anything else) and numbers."""
    out = []
    i = 0
    while i < len(s) or not out:
        j = i
        while j < len(s) and not s[j].isdigit():
            j += 1
        out.append(tuple(_dpkg_order(c) for c in s[i:j]) + (0,))
        k = j
        while k < len(s) and s[k].isdigit():
            k += 1
        out.append(int(s[j:k] or 0))
        i = k
        if i >= len(s):
            break
    return tuple(out)


def dpkg_key(v: str) -> tuple:
    v = v.strip()
    if not v or any(c.isspace() for c in v):
        raise ValueError(f"invalid dpkg version {v!r}")
    epoch, sep, rest = v.partition(":")
    if not sep:
        epoch, rest = "0", v
    if not epoch.isdigit():
        raise ValueError(f"invalid dpkg epoch in {v!r}")
    upstream, dash, revision = rest.rpartition("-")
    if not dash:
        upstream, revision = rest, "0"
    if not upstream or not upstream[0].isdigit():
        raise ValueError(f"invalid dpkg version {v!r}: upstream version must start with a digit")
    return (int(epoch), _pad(_verrevcmp_key(upstream)), _pad(_verrevcmp_key(revision)))


def _pad(key: tuple) -> tuple:
    # dpkg compares parts pairwise and treats a missing part as "" / 0: pad to a common length
    # by appending (0,) for strings and 0 for numbers, long enough for any real version.
    return key + ((0,), 0) * ((64 - len(key)) // 2)


# -- apk ----------------------------------------------------------------------------------------

_APK = re.compile(r"^(\d+(?:\.\d+)*)([a-z]?)((?:_(?:alpha|beta|pre|rc|cvs|svn|git|hg|p)\d*)*)(?:~[0-9a-f]+)?(?:-r(\d+))?$")
_APK_SUFFIX = {"alpha": 0, "beta": 1, "pre": 2, "rc": 3, "": 4, "cvs": 5, "svn": 6, "git": 7, "hg": 8, "p": 9}


def apk_key(v: str) -> tuple:
    m = _APK.match(v.strip())
    if not m:
        raise ValueError(f"invalid apk version {v!r}")
    nums, letter, suffixes, rev = m.groups()
    parts = nums.split(".")
    key: list = [(int(parts[0]), "")]
    for p in parts[1:]:
        # apk (as Gentoo): a component with a leading zero compares as a decimal fraction
        key.append((0, p.rstrip("0")) if p.startswith("0") and len(p) > 1 else (int(p), ""))
    key += [(-1, "")] * (16 - len(key))
    sfx = [(_APK_SUFFIX[s.rstrip("0123456789")], int(s.lstrip("abcdefghijklmnopqrstuvwxyz") or 0))
           for s in suffixes.split("_")[1:]]
    sfx += [(_APK_SUFFIX[""], 0)] * (8 - len(sfx))
    return (tuple(key), letter, tuple(sfx), int(rev or 0))


# -- PEP 440 ------------------------------------------------------------------------------------

_PEP440 = re.compile(r"""^\s*v?
    (?:(?P<epoch>[0-9]+)!)?
    (?P<release>[0-9]+(?:\.[0-9]+)*)
    (?:[-_\.]?(?P<pre_l>alpha|a|beta|b|preview|pre|c|rc)[-_\.]?(?P<pre_n>[0-9]+)?)?
    (?:(?:-(?P<post_n1>[0-9]+))|(?:[-_\.]?(?P<post_l>post|rev|r)[-_\.]?(?P<post_n2>[0-9]+)?))?
    (?:[-_\.]?(?P<dev_l>dev)[-_\.]?(?P<dev_n>[0-9]+)?)?
    (?:\+(?P<local>[a-z0-9]+(?:[-_\.][a-z0-9]+)*))?
    \s*$""", re.VERBOSE | re.IGNORECASE)
_PRE = {"alpha": "a", "a": "a", "beta": "b", "b": "b", "c": "rc", "pre": "rc", "preview": "rc", "rc": "rc"}
_NEG, _POS = (-1,), (1 << 62,)


def pep440_key(v: str) -> tuple:
    m = _PEP440.match(v)
    if not m:
        raise ValueError(f"invalid PEP 440 version {v!r}")
    release = [int(x) for x in m.group("release").split(".")]
    while len(release) > 1 and release[-1] == 0:
        release.pop()
    pre = (_PRE[m.group("pre_l").lower()], int(m.group("pre_n") or 0)) if m.group("pre_l") else None
    post_n = m.group("post_n1") or m.group("post_n2")
    post = int(post_n or 0) if (m.group("post_l") or m.group("post_n1")) else None
    dev = int(m.group("dev_n") or 0) if m.group("dev_l") else None
    # packaging's _cmpkey: a dev release of a final version sorts before its pre-releases
    if pre is None and post is None and dev is not None:
        pre_k = (0, "", 0)
    elif pre is None:
        pre_k = (2, "", 0)
    else:
        pre_k = (1, pre[0], pre[1])
    post_k = (0, 0) if post is None else (1, post)
    dev_k = (1, 0) if dev is None else (0, dev)
    local = m.group("local")
    local_k = () if local is None else tuple((1, int(p), "") if p.isdigit() else (0, 0, p.lower())
                                             for p in re.split(r"[-_.]", local))
    return (int(m.group("epoch") or 0), tuple(release) + (0,) * (16 - len(release)), pre_k, post_k, dev_k,
            (0,) if local is None else (1, local_k))


# -- SemVer -------------------------------------------------------------------------------------

_SEMVER = re.compile(r"^v?(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
                     r"(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?"
                     r"(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$")


def semver_key(v: str) -> tuple:
    m = _SEMVER.match(v.strip())
    if not m:
        raise ValueError(f"invalid semantic version {v!r}")
    pre = m.group(4)
    pre_k = (1,) if pre is None else (0, tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in pre.split(".")))
    return (int(m.group(1)), int(m.group(2)), int(m.group(3)), pre_k)


def _go_key(v: str) -> tuple:
    return semver_key(v if v.startswith("v") else "v" + v)


KEYS = {"Debian": dpkg_key, "Ubuntu": dpkg_key, "Alpine": apk_key, "PyPI": pep440_key, "npm": semver_key,
        "Go": _go_key}


def key(ecosystem: str, version: str) -> tuple:
    fn = KEYS.get(ecosystem.split(":", 1)[0])
    if fn is None:
        raise ValueError(f"no version ordering for ecosystem {ecosystem!r}")
    return fn(version)
