"""dockyard build: the seed patterns on a local busybox base, the cache, reproducibility, errors."""

import io
import json
import os
import subprocess
import tarfile

import pytest
from support import no_traceback


def write(ctx, files: dict) -> str:
    for name, content in files.items():
        p = os.path.join(ctx, name)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        with open(p, "w") as f:
            f.write(content)
    return str(ctx)


NODE_STYLE = """\
FROM busybox
WORKDIR /app
COPY package*.json ./
RUN echo "installed $(cat package.json)" > deps.txt
COPY . .
EXPOSE 3000
CMD ["sh", "-c", "cat deps.txt server.js"]
"""


@pytest.fixture
def ctx(tmp_path):
    d = tmp_path / "ctx"
    d.mkdir()
    return d


def test_node_style_app(dy, busybox, ctx):
    write(ctx, {"Dockerfile": NODE_STYLE, "package.json": '{"name":"app"}', "server.js": "console.log(1)\n",
                "node_modules/junk": "x", ".dockerignore": "node_modules\n"})
    p = dy("build", "-t", "app:1", str(ctx), timeout=120)
    assert "Successfully built" in p.out and "Successfully tagged app:1" in p.out
    assert dy("run", "--rm", "app:1").out == 'installed {"name":"app"}\nconsole.log(1)\n'
    cfg = json.loads(dy("inspect", "-f", "{{json .Config}}", "app:1").out)
    assert cfg["WorkingDir"] == "/app" and cfg["ExposedPorts"] == {"3000/tcp": {}}
    assert dy("run", "--rm", "app:1", "ls", "/app").out.split() == ["Dockerfile", "deps.txt", "package.json",
                                                                    "server.js"]  # node_modules ignored


def test_cache_reuses_steps_and_a_changed_file_invalidates_from_its_copy(dy, busybox, ctx):
    write(ctx, {"Dockerfile": NODE_STYLE, "package.json": "{}", "server.js": "v1\n"})
    first = dy("build", "-q", "-t", "app:1", str(ctx), timeout=120).out.strip()
    again = dy("build", "-t", "app:1", str(ctx), timeout=120).out
    assert again.count("Using cache") == 6  # every step after FROM
    assert dy("build", "-q", str(ctx), timeout=120).out.strip() == first  # same image, same id
    write(ctx, {"server.js": "v2\n"})
    out = dy("build", "-t", "app:2", str(ctx), timeout=120).out
    steps = out.split("Step ")[1:]
    cached = ["Using cache" in s for s in steps]
    # FROM, WORKDIR, COPY package*.json, RUN stay cached; COPY . . and later are rebuilt
    assert cached == [False, True, True, True, False, False, False], out
    assert dy("run", "--rm", "app:2").out.endswith("v2\n")
    assert "Using cache" not in dy("build", "--no-cache", str(ctx), timeout=120).out


def test_mtime_alone_does_not_invalidate(dy, busybox, ctx):
    write(ctx, {"Dockerfile": "FROM busybox\nCOPY f /f\n", "f": "same"})
    dy("build", "-q", str(ctx), timeout=120)
    os.utime(os.path.join(ctx, "f"), (1, 1))
    assert "Using cache" in dy("build", str(ctx), timeout=120).out


def test_multi_stage_copies_artifacts_into_a_small_final_stage(dy, busybox, ctx):
    write(ctx, {"Dockerfile": """\
FROM busybox AS builder
WORKDIR /src
COPY . .
RUN mkdir -p /dist && echo "<h1>$(cat index.txt)</h1>" > /dist/index.html
FROM busybox
COPY --from=builder /dist /usr/share/www
CMD ["cat", "/usr/share/www/index.html"]
""", "index.txt": "hello"})
    dy("build", "-t", "web:1", str(ctx), timeout=120)
    assert dy("run", "--rm", "web:1").out == "<h1>hello</h1>\n"
    p = dy("run", "--rm", "web:1", "sh", "-c", "test -e /src && echo leaked || echo clean")
    assert p.out == "clean\n"
    layers = json.loads(dy("inspect", "web:1").out)[0]["RootFS"]["Layers"]
    assert len(layers) == 2  # busybox + the copied artifacts only


def test_non_root_user_and_read_only_app(dy, busybox, ctx):
    write(ctx, {"Dockerfile": """\
FROM busybox
RUN echo "appgroup:x:1000:" >> /etc/group && echo "appuser:x:1000:1000::/app:/bin/sh" >> /etc/passwd
WORKDIR /app
COPY --chown=appuser:appgroup . .
RUN chmod -R a-w /app
USER appuser
CMD ["sh", "-c", "id -un; touch /app/x 2>&1 || echo denied"]
""", "server.js": "ok"})
    dy("build", "-t", "secure:1", str(ctx), timeout=120)
    out = dy("run", "--rm", "secure:1").out
    assert out.startswith("appuser\n") and "denied" in out
    assert dy("run", "--rm", "secure:1", "stat", "-c", "%U", "/app/server.js").out == "appuser\n"


def test_build_args_target_iidfile_labels(dy, busybox, ctx, tmp_path):
    write(ctx, {"Dockerfile": """\
ARG BASE=busybox
FROM $BASE AS one
ARG GREETING=hello
RUN echo "$GREETING" > /greeting
FROM one AS two
RUN echo two > /two
"""})
    iid = tmp_path / "iid"
    dy("build", "--build-arg", "GREETING=bonjour", "--target", "one", "--iidfile", str(iid), "--label", "a=b",
       "-t", "args:1", str(ctx), timeout=120)
    assert iid.read_text().startswith("sha256:")
    assert dy("run", "--rm", "args:1", "cat", "/greeting").out == "bonjour\n"
    assert dy("run", "--rm", "args:1", "sh", "-c", "test -e /two || echo no").out == "no\n"
    assert json.loads(dy("inspect", "-f", "{{json .Config.Labels}}", "args:1").out) == {"a": "b"}


def test_reproducible_with_source_date_epoch(dy, busybox, ctx, tmp_path):
    write(ctx, {"Dockerfile": "FROM busybox\nCOPY f /f\nRUN echo x > /y\n", "f": "data"})
    other = type(dy)(str(tmp_path / "root2"), str(tmp_path / "run2"))
    other("bootstrap", "busybox", "busybox:latest")
    ids = []
    for d in (dy, other):
        d.env = dict(d.env, SOURCE_DATE_EPOCH="1700000000")
        ids.append(d("build", "-q", "--no-cache", str(ctx), timeout=120).out.strip())
    assert ids[0] == ids[1]


@pytest.mark.parametrize("dockerfile, message", [
    ("FROM busybox\nRUNN true\n", "Dockerfile:2: unknown instruction: RUNN"),
    ("RUN true\n", "Dockerfile:1:"),
    ("", "file with no instructions"),
    ("FROM busybox\nRUN <<EOF\necho never closed\n", "Dockerfile:2:"),
])
def test_bad_dockerfiles_name_file_and_line(dy, busybox, ctx, dockerfile, message):
    write(ctx, {"Dockerfile": dockerfile})
    p = dy("build", str(ctx), check=False, timeout=120)
    assert p.returncode == 1 and message in p.err, p.err
    no_traceback(p)


def test_failing_run_reports_the_command_and_code(dy, busybox, ctx):
    write(ctx, {"Dockerfile": "FROM busybox\nRUN exit 3\n"})
    p = dy("build", str(ctx), check=False, timeout=120)
    assert p.returncode == 1
    assert "The command '/bin/sh -c exit 3' returned a non-zero code: 3" in p.err
    assert dy("ps", "-aq").out == ""


def test_context_from_stdin_and_dockerfile_from_stdin(dy, busybox, ctx):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        for name, data in {"Dockerfile": b"FROM busybox\nCOPY hello /hello\n", "hello": b"from a tar\n"}.items():
            ti = tarfile.TarInfo(name)
            ti.size = len(data)
            tf.addfile(ti, io.BytesIO(data))
    dy("build", "-t", "tarctx:1", "-", input=buf.getvalue(), timeout=120)
    assert dy("run", "--rm", "tarctx:1", "cat", "/hello").out == "from a tar\n"
    write(ctx, {"hello": "from a dir\n"})
    dy("build", "-f", "-", "-t", "stdin:1", str(ctx), input="FROM busybox\nCOPY hello /hello\n", timeout=120)
    assert dy("run", "--rm", "stdin:1", "cat", "/hello").out == "from a dir\n"


def test_missing_source_is_a_clear_error(dy, busybox, ctx):
    write(ctx, {"Dockerfile": "FROM busybox\nCOPY nope /x\n"})
    p = dy("build", str(ctx), check=False, timeout=120)
    assert p.returncode == 1 and "nope" in p.err and "does not exist" in p.err
    no_traceback(p)



def test_heredocs_in_run_and_copy(dy, busybox, ctx):
    write(ctx, {"Dockerfile": "FROM busybox\n"
                              "RUN <<EOF\necho one > /one\necho two > /two\nEOF\n"
                              "RUN cat <<EOT > /three\nthree $((1+2))\nEOT\n"
                              "COPY <<EOF /etc/motd\nwelcome\nEOF\n"})
    dy("build", "-t", "here:1", str(ctx), timeout=120)
    assert dy("run", "--rm", "here:1", "cat", "/one", "/two", "/three", "/etc/motd").out == \
        "one\ntwo\nthree 3\nwelcome\n"
    # the body is part of the step: changing it must rebuild
    write(ctx, {"Dockerfile": "FROM busybox\nRUN <<EOF\necho changed > /one\nEOF\n"})
    out = dy("build", "-t", "here:2", str(ctx), timeout=120).out
    assert "Using cache" not in out
    assert dy("run", "--rm", "here:2", "cat", "/one").out == "changed\n"


def test_onbuild_triggers_and_copy_from_an_image(dy, busybox, ctx, tmp_path):
    base = tmp_path / "base"
    write(base, {"Dockerfile": "FROM busybox\nRUN echo base > /from-base\nONBUILD COPY app.txt /app.txt\n"})
    dy("build", "-t", "base:1", str(base), timeout=120)
    write(ctx, {"Dockerfile": "FROM base:1\nCOPY --from=base:1 /from-base /copied\n", "app.txt": "child\n"})
    dy("build", "-t", "child:1", str(ctx), timeout=120)
    assert dy("run", "--rm", "child:1", "cat", "/app.txt", "/copied").out == "child\nbase\n"
    # triggers run once: the child image does not carry them on
    assert dy("inspect", "-f", "{{json .Config.OnBuild}}", "child:1").out.strip() in ("null", "<no value>", "[]")


def test_plain_progress_says_why_a_step_missed_the_cache(dy, busybox, ctx):
    write(ctx, {"Dockerfile": "FROM busybox AS b\nCOPY a.txt /a\nRUN cat /a > /b\n"
                              "FROM busybox\nARG MODE=x\nRUN echo $MODE > /mode\nCOPY --from=b /b /b\n",
                "a.txt": "1", "other.txt": "o"})
    first = dy("build", str(ctx), timeout=120).out
    assert "no earlier build of this step" in first
    write(ctx, {"a.txt": "2"})
    out = dy("build", str(ctx), timeout=120).out
    assert "Cache miss: source files changed: a.txt (modified)" in out
    assert "Cache miss: an earlier step changed" in out  # the RUN after it
    assert "Cache miss: the stage or image it copies from (b) changed" in out
    out = dy("build", "--build-arg", "MODE=y", str(ctx), timeout=120).out
    assert "Cache miss: build arg MODE changed" in out
    assert "Cache miss: --no-cache" in dy("build", "--no-cache", str(ctx), timeout=120).out


@pytest.fixture
def http_file(tmp_path):
    """A file served on 127.0.0.1 (loopback only) for ADD URL."""
    import functools
    import http.server
    import threading

    root = tmp_path / "www"
    root.mkdir()
    (root / "data.txt").write_text("downloaded\n")
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    handler.log_message = lambda *a, **k: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}", root
    server.shutdown()
    server.server_close()


def test_add_from_a_url_with_checksum(dy, busybox, ctx, http_file):
    import hashlib

    base, root = http_file
    digest = hashlib.sha256(b"downloaded\n").hexdigest()
    write(ctx, {"Dockerfile": f"FROM busybox\nADD --checksum=sha256:{digest} {base}/data.txt /srv/\n"})
    dy("build", "-t", "url:1", str(ctx), timeout=120)
    assert dy("run", "--rm", "url:1", "sh", "-c", "cat /srv/data.txt; stat -c %a /srv/data.txt").out == \
        "downloaded\n600\n"
    assert "Using cache" in dy("build", str(ctx), timeout=120).out  # same content: cached
    (root / "data.txt").write_text("changed\n")
    p = dy("build", str(ctx), check=False, timeout=120)
    assert p.returncode == 1 and "digest mismatch" in p.err
    write(ctx, {"Dockerfile": f"FROM busybox\nADD {base}/data.txt /srv/data.txt\n"})
    out = dy("build", "-t", "url:2", str(ctx), timeout=120).out
    assert dy("run", "--rm", "url:2", "cat", "/srv/data.txt").out == "changed\n"
    assert "Using cache" not in out


def test_unsupported_flags_are_refused_clearly(dy, busybox, ctx):
    write(ctx, {"Dockerfile": "FROM busybox\nRUN --mount=type=ssh true\n", "a": "1"})
    p = dy("build", str(ctx), check=False, timeout=120)
    assert p.returncode == 1 and "type=ssh is not supported" in p.err and "Dockerfile:2" in p.err
    no_traceback(p)


REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_a_relative_dockerfile_is_the_current_directorys(dy, busybox, tmp_path):
    """-f names a file of the current directory (docker's CLI), not of the context."""
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "Dockerfile.x").write_text("FROM busybox\n")
    p = dy("build", "-q", "-f", "Dockerfile.x", str(ctx), check=False)  # dy runs in the repository
    assert p.returncode == 1 and p.err.endswith("unable to evaluate symlinks in Dockerfile path: lstat "
                                                f"{os.path.join(REPO, 'Dockerfile.x')}: no such file or "
                                                "directory\n"), p.err
    p = subprocess.run(dy.cmd("build", "-q", "-f", "Dockerfile.x", "."), cwd=str(ctx), env=dy.env,
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 0 and p.stdout.startswith("sha256:"), p.stderr
