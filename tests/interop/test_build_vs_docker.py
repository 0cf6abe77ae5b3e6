"""COPY/ADD with symlinks, dockyard beside Docker's builder on the same contexts (issue 10).

Each context is built by dockyard and by the private dockerd (its classic builder: the docker
CLI here has no buildx; BuildKit resolves sources the same way, inside the context and
following the named source). Both must agree on whether the build fails, and when it does not,
on the files of the image (type, mode bits, content or link target). Host canaries outside the
context must be unchanged after both.
"""

import io
import os
import subprocess
import tarfile
import uuid

import pytest
from dockyard_interop import private_dockerd

SECRET = f"HOST-SECRET-{uuid.uuid4().hex}"
RUNTIME_PATHS = (".dockerenv", "dev", "etc", "proc", "sys")  # made by the engines, not the build


@pytest.fixture(scope="module")
def dockerd():
    with private_dockerd() as docker:
        yield docker


def _tar(members: dict) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        for name, data in members.items():
            ti = tarfile.TarInfo(name)
            ti.size = len(data)
            tf.addfile(ti, io.BytesIO(data))
    return buf.getvalue()


def _base_tar() -> bytes:
    """An image root with what COPY destinations must respect: links (absolute, relative, one
    climbing above /) and a directory another user owns with mode 0700."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        for name, kind, extra, uid, mode in (("opt", tarfile.DIRTYPE, "", 0, 0o755),
                                             ("opt/app", tarfile.DIRTYPE, "", 0, 0o755),
                                             ("app", tarfile.SYMTYPE, "/opt/app", 0, 0o777),
                                             ("rel", tarfile.SYMTYPE, "opt", 0, 0o777),
                                             ("up", tarfile.SYMTYPE, "../../../opt", 0, 0o777),
                                             ("home", tarfile.DIRTYPE, "", 0, 0o755),
                                             ("home/u", tarfile.DIRTYPE, "", 1000, 0o700)):
            ti = tarfile.TarInfo(name)
            ti.type, ti.linkname, ti.uid, ti.gid, ti.mode = kind, extra, uid, uid, mode
            tf.addfile(ti)
    return buf.getvalue()


def _make(ctx, host, spec: dict) -> None:
    for name, value in spec.items():
        p = os.path.join(ctx, name)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        if isinstance(value, tuple):  # ("link", target), with {host} for the canary dir
            os.symlink(value[1].format(host=host), p)
        elif isinstance(value, bytes):
            with open(p, "wb") as f:
                f.write(value)
        else:
            with open(p, "w") as f:
                f.write(value)


CASES = {
    "links-inside": ({"a": "A\n", "link": ("link", "a"), "abslink": ("link", "/a"), "dir/f": "F\n",
                      "dirlink": ("link", "dir"), "dir/rel": ("link", "../a"), "dir/abs": ("link", "/a")},
                     "COPY link /x\nCOPY abslink /y\nCOPY dirlink /d/\nCOPY dir/../a /z\n"),
    "link-to-host-dir-then-sub": ({"link": ("link", "{host}/dir"), "sub/link/keep": "PWNED\n"},
                                  "COPY link sub /app/\n"),
    "wildcard-with-host-link": ({"link": ("link", "{host}/dir"), "sub/x": "x\n"}, "COPY * /app/\n"),
    "file-link-out": ({"slink": ("link", "{host}/secret")}, "COPY slink /x\n"),
    "through-dir-link-out": ({"hostdir": ("link", "{host}")}, "COPY hostdir/secret /x\n"),
    "add-tar-link-out": ({"t.tar": ("link", "{host}/evil.tar")}, "ADD t.tar /x/\n"),
    "links-below-a-dir": ({"d/abs": ("link", "{host}/secret"), "d/dirlink": ("link", "{host}/dir"),
                           "d/f": "f\n"}, "COPY d /app/\n"),
    "add-tar": ({"a.tar": _tar({"f": b"in\n"}), "l.tar": ("link", "a.tar")}, "ADD a.tar /x\nADD l.tar /y/\n"),
    "destinations-in-the-image": ({"base.tar": _base_tar(), "f": "f\n", "d/g": "g\n"},
                                  "ADD base.tar /\nCOPY f /app/\nCOPY f /home/u/\nCOPY d /rel/sub/\n"
                                  "COPY f /up/deep/h\nCOPY f /app/../x\n"),
}


def _files(tar_bytes: bytes) -> dict:
    out = {}
    with tarfile.open(fileobj=io.BytesIO(tar_bytes)) as tf:
        for m in tf:
            name = m.name.removeprefix("./").strip("/")
            if not name or name.split("/")[0] in RUNTIME_PATHS:
                continue
            body = tf.extractfile(m).read() if m.isreg() else m.linkname.encode() if m.issym() else b""
            out[name] = (m.type, m.mode & 0o7777 if not m.issym() else 0, m.uid, m.gid, body)
    return out


def _docker_result(docker, ctx):
    env = dict(os.environ, DOCKER_BUILDKIT="0")
    p = subprocess.run([docker, "build", "-q", str(ctx)], capture_output=True, text=True, timeout=180, env=env)
    if p.returncode != 0:
        return None, p.stderr
    image = p.stdout.strip().splitlines()[-1]
    try:
        cid = subprocess.run([docker, "create", "--network", "none", image, "true"], capture_output=True,
                             text=True, timeout=60, check=True).stdout.strip()
        try:
            tar = subprocess.run([docker, "export", cid], capture_output=True, timeout=120, check=True).stdout
        finally:
            subprocess.run([docker, "rm", "-f", cid], capture_output=True, timeout=60)
    finally:
        subprocess.run([docker, "rmi", "-f", image], capture_output=True, timeout=60)
    return _files(tar), ""


def _dockyard_result(dy, ctx, tmp_path):
    p = dy("build", "-q", str(ctx), check=False, timeout=180)
    assert "Traceback" not in p.err
    if p.returncode != 0:
        return None, p.err
    image = p.out.strip()
    cid = dy("create", image, "true").out.strip()
    out = tmp_path / "export.tar"
    dy("export", "-o", str(out), cid)
    dy("rm", cid)
    return _files(out.read_bytes()), ""


@pytest.mark.parametrize("case", sorted(CASES))
def test_copy_and_add_agree_with_docker(dy, dockerd, tmp_path, case):
    host = tmp_path / "host"
    (host / "dir").mkdir(parents=True)
    (host / "secret").write_text(SECRET + "\n")
    (host / "dir" / "keep").write_text("keep\n")
    (host / "evil.tar").write_bytes(_tar({"from-host": SECRET.encode()}))
    spec, steps = CASES[case]
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    _make(ctx, host, spec)
    (ctx / "Dockerfile").write_text("FROM scratch\n" + steps)
    theirs, their_err = _docker_result(dockerd, ctx)
    ours, our_err = _dockyard_result(dy, ctx, tmp_path)
    assert (theirs is None) == (ours is None), f"docker: {their_err or 'built'}; dockyard: {our_err or 'built'}"
    assert ours == theirs
    assert sorted(os.listdir(host / "dir")) == ["keep"] and (host / "dir" / "keep").read_text() == "keep\n"
    assert (host / "secret").read_text() == SECRET + "\n"
    if ours is not None:
        assert not any(SECRET.encode() in body for *_meta, body in ours.values())


def test_a_dockerfile_linking_out_of_the_context_is_refused_by_both(dy, dockerd, tmp_path):
    (tmp_path / "secret").write_text(SECRET + "\n")
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    os.symlink(str(tmp_path / "secret"), ctx / "Dockerfile")
    env = dict(os.environ, DOCKER_BUILDKIT="0")
    p = subprocess.run([dockerd, "build", str(ctx)], capture_output=True, text=True, timeout=120, env=env)
    assert p.returncode != 0 and "unable to open Dockerfile" in p.stderr and SECRET not in p.stderr
    p = dy("build", str(ctx), check=False)
    assert p.returncode == 1 and "unable to open Dockerfile" in p.err and SECRET not in p.err
