"""htpasswd parsing and bcrypt verification for the registry server."""

from __future__ import annotations

import base64
import os
import shutil
import subprocess

import pytest

from dockyard.errors import InvalidArgument
from dockyard.registry.server.auth import Htpasswd, parse_basic, parse_htpasswd

bcrypt = pytest.importorskip("bcrypt")


def _entry(user: str, password: str, prefix: bytes = b"$2b$") -> str:
    hashed = bcrypt.hashpw(password.encode(), bcrypt.gensalt(4))
    return f"{user}:{(prefix + hashed[4:]).decode()}"


def test_parse_htpasswd_accepts_bcrypt_variants_comments_and_blank_lines():
    text = "\n".join(["# users", "", _entry("alice", "pw1"), _entry("bob", "pw2", b"$2y$"), "  "]) + "\n"
    users = parse_htpasswd(text)
    assert sorted(users) == ["alice", "bob"]
    assert users["bob"].startswith(b"$2y$")


@pytest.mark.parametrize("line,why", [
    ("alice:$apr1$abc$def", "non-bcrypt"),
    ("alice:{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g=", "non-bcrypt"),
    ("alice:plaintext", "non-bcrypt"),
    ("no-colon-here", "user:hash"),
    (":$2y$05$abc", "user:hash"),
])
def test_parse_htpasswd_refuses_other_entries_naming_the_line(line, why):
    with pytest.raises(InvalidArgument) as e:
        parse_htpasswd("# first\n" + line + "\n", "users.htpasswd")
    assert "users.htpasswd:2" in str(e.value) and why in str(e.value)


def test_verify(tmp_path):
    path = tmp_path / "htpasswd"
    path.write_text(_entry("alice", "s3cret:with colon") + "\n" + _entry("bob", "x", b"$2y$") + "\n")
    h = Htpasswd(str(path))
    assert h.verify("alice", "s3cret:with colon")
    assert h.cached("alice", "s3cret:with colon")
    assert h.verify("bob", "x")
    assert not h.verify("alice", "wrong")
    assert not h.cached("alice", "wrong")
    assert not h.verify("carol", "x")
    assert not h.verify("", "")


def test_file_changes_are_picked_up_and_forget_cached_passwords(tmp_path):
    path = tmp_path / "htpasswd"
    path.write_text(_entry("alice", "old") + "\n")
    h = Htpasswd(str(path))
    assert h.verify("alice", "old") and h.cached("alice", "old")
    path.write_text(_entry("alice", "new") + "\n" + _entry("bob", "b") + "\n")
    os.utime(path, ns=(1, 1))  # a different mtime even within the clock's resolution
    assert not h.cached("alice", "old")
    assert not h.verify("alice", "old")
    assert h.verify("alice", "new") and h.verify("bob", "b")


@pytest.mark.skipif(not shutil.which("htpasswd"), reason="needs htpasswd (apache2-utils)")
def test_entries_written_by_htpasswd_tool(tmp_path):
    out = subprocess.run(["htpasswd", "-Bbn", "dy", "pa ss"], capture_output=True, text=True, check=True).stdout
    path = tmp_path / "htpasswd"
    path.write_text(out)
    h = Htpasswd(str(path))
    assert h.verify("dy", "pa ss") and not h.verify("dy", "pass")


def test_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(InvalidArgument, match="cannot read htpasswd file"):
        Htpasswd(str(tmp_path / "nope"))


def test_parse_basic():
    enc = base64.b64encode(b"alice:pw:with:colons").decode()
    assert parse_basic(f"Basic {enc}") == ("alice", "pw:with:colons")
    assert parse_basic(f"basic  {enc}") == ("alice", "pw:with:colons")
    assert parse_basic(None) is None
    assert parse_basic("Bearer abc") is None
    assert parse_basic("Basic !!!") is None
    assert parse_basic("Basic " + base64.b64encode(b"nocolon").decode()) is None
    assert parse_basic("Basic " + base64.b64encode(b"\xff\xfe:x").decode()) is None
