"""Issue 15's proof for the image commands other than build/images/pull/push: history, tag, rmi,
save, load, import and image prune, through dockyard and the docker CLI (28, against dockerd:
`private_dockerd`), the same exit code and output, normalised only for what differs by nature
(tests/interop/flagcmp.py). Every image made in dockerd carries this test's unique prefix; the
prune is narrowed to this test's label."""

from __future__ import annotations

import json
import tarfile

from dockyard_interop import compares
from flagcmp import dockerd, pair  # noqa: F401 - fixtures


def _committed(pair, tag: str, *changes: str) -> None:
    """`tag` on both sides: a commit of a container that wrote a file (each side's ID differs: it
    holds the commit's time)."""
    n = len(pair.made["container"])
    c = pair.name(f"src{n}")
    # content of its own: dockyard's layers are reproducible (the same files, the same layer), dockerd's not
    pair.container(c, pair.image, "sh", "-c", f"echo data{n} > /file")
    a, b = pair.both("start", "-a", c)
    assert a.rc == b.rc == 0
    pair.made["image"].append(tag)
    args = [x for ch in changes for x in ("-c", ch)]
    a, b = pair.both("commit", *args, c, tag)
    assert a.rc == b.rc == 0, (a, b)
    pair.same_id(tag, a.out, b.out)
    layers(pair, tag)


def layers(pair, tag: str) -> None:
    """The chain IDs of `tag`'s layers, registered: dockerd's layer tars hold the files' times,
    so a commit's layer (and chain) ID is each side's own (rmi and prune print them)."""
    import hashlib

    chains = []
    for r in pair.both("image", "inspect", "-f", "{{json .RootFS.Layers}}", tag):
        ids = json.loads(r.out)
        chain = [ids[0]]
        for diff in ids[1:]:
            chain.append("sha256:" + hashlib.sha256(f"{chain[-1]} {diff}".encode()).hexdigest())
        chains.append(chain)
    for i, (ours, theirs) in enumerate(zip(*chains)):
        if ours != theirs:
            pair.same_id(f"{tag}-layer{i}", ours, theirs)


@compares("history", "--format", "--human", "--no-trunc", "--quiet")
def test_history_flags_as_docker(pair):
    tag = pair.name("img") + ":1"
    _committed(pair, tag, "LABEL a=b", "ENV X=1")
    for args in ((), ("-q",), ("--no-trunc",), ("-H=false",), ("--human=false", "--no-trunc"),
                 ("--format", "{{.ID}}|{{.CreatedBy}}|{{.Size}}|{{.Comment}}"),
                 ("--format", "table {{.ID}}\t{{.Size}}\t{{.CreatedBy}}"), ("-q", "--no-trunc")):
        pair.same("history", *args, tag, table=not args or args[0] in ("--no-trunc", "-H=false", "--human=false")
                  or "table" in args[-1])
        pair.same("history", *args, pair.image, table=True)
    a, b = pair.ok("history", "--format", "json", pair.image)
    assert [json.loads(x) for x in pair.norm(a, 0).splitlines()] == [json.loads(x) for x in pair.norm(b, 1).splitlines()]
    pair.same("history", pair.name("nope") + ":1")
    pair.same("history", "--format", "{{.Nope}}", pair.image)


@compares("rmi", "--force", "--no-prune")
def test_tag_and_rmi_as_docker(pair):
    t1, t2, t3 = (pair.name(f"t{i}") + ":1" for i in range(3))
    pair.made["image"] += [t1, t2, t3]
    pair.same("tag", pair.image, t1)
    pair.same("tag", t1, t2)
    pair.same("tag", pair.name("nope") + ":1", t3)
    pair.same("tag", pair.image, "Bad:1")
    pair.same("images", "--format", "{{.Repository}}:{{.Tag}} {{.ID}}", "--filter", f"reference={pair.prefix}*",
              sort=True)
    pair.same("rmi", t1)  # other tags keep the image
    pair.same("rmi", t1)  # gone
    own = pair.name("own") + ":1"
    _committed(pair, own)
    c = pair.name("user")
    pair.container(c, own, "true")
    pair.same("rmi", own)  # a container uses it
    # forced: both untag it; dockerd also deletes the image record (its container keeps the layers),
    # dockyard keeps it dangling for the container (see the known differences): the first line only
    a, b = pair.both("rmi", "--no-prune", "-f", own)
    assert (a.rc, a.out.splitlines()[0]) == (b.rc, b.out.splitlines()[0]) == (0, f"Untagged: {own}"), (a, b)
    pair.same("rm", c)
    _committed(pair, pair.name("own2") + ":1")
    pair.same("rmi", "--force", pair.name("own2") + ":1")  # the image and its layer go
    pair.same("rmi", t2)
    pair.same("rmi", "-f", pair.name("nope") + ":1")


@compares("save", "--output")
@compares("load", "--input", "--quiet")
def test_save_and_load_flags_as_docker(pair, tmp_path):
    tag = pair.name("s") + ":1"
    pair.made["image"].append(tag)
    pair.same("tag", pair.image, tag)
    for side in ("ours", "theirs"):
        r = getattr(pair, side)("save", "--output", str(tmp_path / f"{side}.tar"), tag)
        assert r.rc == 0 and r.out == "", r

    def manifest(path):
        with tarfile.open(path) as t:
            return json.load(t.extractfile("manifest.json"))

    ours, theirs = manifest(tmp_path / "ours.tar"), manifest(tmp_path / "theirs.tar")
    assert [m["RepoTags"] for m in ours] == [m["RepoTags"] for m in theirs] == [[tag]]
    assert [m["Config"].rpartition("/")[2].removesuffix(".json") for m in ours] == \
        [m["Config"].rpartition("/")[2].removesuffix(".json") for m in theirs]  # the same image ID
    pair.same("save", "-o", str(tmp_path / "nodir" / "x.tar"), tag, stderr=False)  # docker: stat's words
    # dockerd 20.10: "reference does not exist"; later ones: "No such image"
    pair.same("save", "-o", str(tmp_path / "x.tar"), pair.name("nope") + ":1", stderr=False)
    pair.same("rmi", tag)
    # each side loads the other's archive: the same lines
    pair.same("load", "--input", str(tmp_path / "theirs.tar"))
    pair.same("rmi", tag)
    pair.same("load", "-q", "-i", str(tmp_path / "ours.tar"))
    pair.same("load", "-i", str(tmp_path / "ours.tar"))  # again: already there
    with open(tmp_path / "ours.tar", "rb") as f:
        data = f.read()
    a = pair.dy("load", input=data)
    import subprocess

    b = subprocess.run([pair.docker, "load"], input=data, capture_output=True, timeout=120)
    assert (a.returncode, a.out) == (b.returncode, b.stdout.decode())
    (tmp_path / "junk.tar").write_bytes(b"not a tar")
    pair.same("load", "-i", str(tmp_path / "junk.tar"), stderr=False)  # the parser's words
    pair.same("load", "-i", str(tmp_path / "none.tar"), stderr=False)  # open's words


@compares("import", "--change", "--message", "--platform")
def test_import_flags_as_docker(pair, tmp_path):
    """An import's image ID holds its creation time: the config and history are compared."""
    c = pair.name("src")
    pair.container(c, pair.image, "true")
    for side in ("ours", "theirs"):
        r = getattr(pair, side)("export", "-o", str(tmp_path / f"{side}.tar"), c)
        assert r.rc == 0, r
    tag = pair.name("imp") + ":1"
    pair.made["image"].append(tag)
    a = pair.ours("import", "-m", "a message", "-c", "ENV A=1", "-c", 'CMD ["sh"]', "-c", "WORKDIR /tmp",
                  "--platform", "linux/amd64", str(tmp_path / "ours.tar"), tag)
    b = pair.theirs("import", "-m", "a message", "-c", "ENV A=1", "-c", 'CMD ["sh"]', "-c", "WORKDIR /tmp",
                    "--platform", "linux/amd64", str(tmp_path / "theirs.tar"), tag)
    assert a.rc == b.rc == 0, (a, b)
    pair.same_id(tag, a.out, b.out)
    fields = ("{{.Comment}}|{{json .Config.Env}}|{{json .Config.Cmd}}|{{.Config.WorkingDir}}|{{.Os}}|"
              "{{.Architecture}}|{{len .RootFS.Layers}}")
    pair.same("image", "inspect", "-f", fields, tag)
    pair.same("history", "--format", "{{.CreatedBy}}|{{.Comment}}", tag)
    pair.same("import", "-c", "NOPE x", str(tmp_path / "ours.tar"), tag)
    pair.same("import", "--platform", "nope", str(tmp_path / "ours.tar"), tag, stderr=False)  # parser's words
    pair.same("import", str(tmp_path / "none.tar"), tag, stderr=False)  # open's words


@compares("image prune", "--all", "--filter", "--force")
def test_image_prune_as_docker(pair):
    """Narrowed to this test's label: a dangling image (its tag moved away) and a tagged unused one."""
    mark = f"{pair.prefix}=1"
    tag = pair.name("p") + ":1"
    _committed(pair, tag, f"LABEL {mark}")
    _committed(pair, pair.name("q") + ":1", f"LABEL {mark}")
    pair.same("tag", pair.image, tag)  # the first commit is dangling now
    pair.same("image", "prune", "--force", "--filter", f"label={mark}")
    pair.same("image", "prune", "-f", "--filter", f"label={mark}")  # nothing left dangling
    pair.same("image", "prune", "-a", "-f", "--filter", f"label={mark}", "--filter", "until=2999-01-01T00:00:00Z")
    pair.same("images", "-q", "--filter", f"reference={pair.prefix}*", sort=True)
    pair.same("image", "prune", "-f", "--filter", "nope=1")
