"""builder/copier.py: sources resolve inside their root, writes stay inside the layer."""

import os
import stat

import pytest

from dockyard.archive.inroot import clean_parts
from dockyard.builder.copier import Layer, MissingSource, SourceRoot, read_inside


@pytest.fixture
def tree(tmp_path):
    """``root`` (a context) and ``host`` (outside it, with a secret and a directory)."""
    root, host = tmp_path / "root", tmp_path / "host"
    (root / "dir" / "sub").mkdir(parents=True)
    (host / "hd").mkdir(parents=True)
    (host / "secret").write_text("HOST\n")
    (root / "a").write_text("A\n")
    (root / ".hidden").write_text("H\n")
    (root / "dir" / "sub" / "f").write_text("F\n")
    os.symlink("a", root / "rel")
    os.symlink("/a", root / "abs")
    os.symlink(str(host / "secret"), root / "out")
    os.symlink(str(host), root / "outdir")
    os.symlink("../../../../..", root / "dir" / "up")
    return root, host


def names(matches):
    return ["/".join(m.name) for m in matches]


def test_clean_parts_clamps_at_the_root():
    assert clean_parts("/../../etc/./x/") == ("etc", "x")
    assert clean_parts("a/../../b") == ("b",)
    assert clean_parts(".") == ()


def test_named_sources_are_followed_inside_the_root(tree):
    root, host = tree
    with SourceRoot(str(root)) as src:
        for name in ("rel", "abs", "dir/up/a", "dir/../../../a"):
            [m] = src.expand(name)
            assert m.real == ("a",), name
        for name in ("out", "outdir/secret", "outdir"):
            with pytest.raises(MissingSource):
                src.expand(name)
        assert src.lookup(("outdir",)) is None
        # the host path itself, asked for inside the root: not there
        with pytest.raises(MissingSource):
            src.expand(str(host / "secret"))


def test_wildcards_match_dot_files_list_real_directories_and_error_on_dangling_matches(tree):
    root, _host = tree
    with SourceRoot(str(root)) as src:
        assert names(src.expand(".h*")) == [".hidden"]
        assert names(src.expand("dir/s?b/*")) == ["dir/sub/f"]
        assert src.expand("*/nothing") == []
        with pytest.raises(MissingSource) as e:
            src.expand("o*")  # out -> a host file: a match that names nothing here
        assert e.value.path == "out"


def test_excluded_paths_are_not_sources(tree):
    root, _host = tree
    with SourceRoot(str(root), excluded=lambda rel: rel == "a" or rel.startswith("dir")) as src:
        assert src.expand("[a]") == [] and src.expand("a") == []  # excluded: not sent, not there
        with pytest.raises(MissingSource):
            src.expand("rel")  # a link to an excluded file names nothing
        [m] = src.expand(".")
        assert [rel for rel, *_ in src.walk(m) if rel and rel[0] == "dir"] == []


def test_walk_follows_no_link_below_the_source(tree):
    root, _host = tree
    with SourceRoot(str(root)) as src:
        [m] = src.expand(".")
        kinds = {"/".join(rel): stat.S_IFMT(st.st_mode) for rel, st, _pfd, _n in src.walk(m) if rel}
    assert kinds["outdir"] == stat.S_IFLNK and kinds["dir/up"] == stat.S_IFLNK
    assert not any(k.startswith(("outdir/", "dir/up/")) for k in kinds)


def test_writes_never_go_through_a_link_in_the_layer(tree, tmp_path):
    root, host = tree
    layer_dir = tmp_path / "layer"
    layer_dir.mkdir()
    os.symlink(str(host / "hd"), layer_dir / "x")       # as an earlier source could leave
    os.symlink(str(host / "secret"), layer_dir / "s")
    me = dict(uid=os.getuid(), gid=os.getgid())
    with SourceRoot(str(root)) as src, Layer(str(layer_dir), **me, mode=0o600) as layer:
        [m] = src.expand("a")
        pfd, name = layer.parent("/s")
        layer.copy(src, m, pfd, name)                   # replaces the link, never writes through it
        os.close(pfd)
        pfd, name = layer.parent("/x/new")              # the link resolves inside the layer
        layer.copy(src, m, pfd, name)
        os.close(pfd)
        [d] = src.expand("dir")
        dfd = layer.directory("/")
        os.symlink(str(host / "hd"), layer_dir / "sub")  # a directory copied over a link
        layer.copy(src, d, dfd, None)
        os.close(dfd)
    assert (host / "secret").read_text() == "HOST\n" and os.listdir(host / "hd") == []
    assert (layer_dir / "s").read_text() == "A\n" and not os.path.islink(layer_dir / "s")
    assert stat.S_IMODE(os.lstat(layer_dir / "s").st_mode) == 0o600
    assert (layer_dir / str(host / "hd").lstrip("/") / "new").read_text() == "A\n"
    assert not os.path.islink(layer_dir / "sub") and (layer_dir / "sub" / "f").read_text() == "F\n"


def test_read_inside(tree):
    root, _host = tree
    assert read_inside(str(root), "abs") == b"A\n"
    assert read_inside(str(root), "out") is None
    assert read_inside(str(root), "dir") is None
