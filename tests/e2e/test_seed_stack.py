"""The seed's Compose stack for real (slow tier), from examples/seed/ as a user builds it.

One Debian base with every package the three images need is bootstrapped once for the session
(tests/conftest.py's `debian_base`: debootstrap from Debian's mirror, loaded into the module's
own store; the containers themselves reach nothing but each other and 127.0.0.1). Then the
`postgres:15` and `redis:7-alpine` stand-ins and the seed's Node app are built from their
Dockerfiles and run: first by hand on a user network (`network create`, `run`), then as the
seed's compose file with `dockyard compose up -d --wait`.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request
import uuid

import pytest

from dockyard.fsutil import unmount_below

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SEED = os.path.join(REPO, "examples", "seed")
BASE = "debian:bookworm-seed"
PACKAGES = {"postgresql-15", "redis-server", "nodejs", "node-pg", "node-redis"}

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not shutil.which("debootstrap"), reason="debootstrap not installed")]


def shared(config):
    """tests/conftest.py, as pytest loaded it (`import conftest` may find another tier's)."""
    want = os.path.join(REPO, "tests", "conftest.py")
    return next(p for p in config.pluginmanager.get_plugins() if getattr(p, "__file__", None) == want)


def clear(store, conftest) -> None:
    """Remove the store's containers and volumes, then its networks (host-wide: bridges and rules)."""
    ids = store("ps", "-aq", "--no-trunc", check=False).out.split()
    if ids:
        store("rm", "-f", "-v", *ids, timeout=120)
    volumes = store("volume", "ls", "-q", check=False).out.split()
    if volumes:
        store("volume", "rm", *volumes)
    conftest.remove_networks(store.root, store.runroot)


@pytest.fixture(scope="module")
def store(request, tmp_path_factory, debian_base):
    """A store with the base and the two stand-in images, shared by the module's tests (the `dy`
    fixture's CLI runner, on roots of the module's own)."""
    conftest = shared(request.config)
    top = tmp_path_factory.mktemp("seed")
    s = conftest.Dockyard(str(top / "root"), str(top / "run"))
    assert PACKAGES <= set(debian_base.packages)
    try:
        t0 = time.monotonic()
        debian_base.load(s, BASE)
        t1 = time.monotonic()
        s("build", "-t", "postgres:15", os.path.join(SEED, "postgres"), timeout=300)
        s("build", "-t", "redis:7-alpine", os.path.join(SEED, "redis"), timeout=300)
        print(f"\nbootstrap (once a session) {debian_base.seconds:.0f}s, load {t1 - t0:.0f}s, "
              f"two stand-in builds {time.monotonic() - t1:.0f}s")
        yield s
    finally:
        clear(s, conftest)
        unmount_below(str(top))


@pytest.fixture
def seed(request, store):
    yield store
    clear(store, shared(request.config))


def free_port() -> int:
    with socket.socket() as sk:
        sk.bind(("127.0.0.1", 0))
        return sk.getsockname()[1]


def get(port: int, path: str = "/", timeout: float = 60) -> str:
    """The app's answer on 127.0.0.1:port, waiting for it to listen (and answer 200)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as r:
                return r.read().decode()
        except (urllib.error.URLError, ConnectionError) as e:
            if time.monotonic() > deadline:
                raise AssertionError(f"no answer on 127.0.0.1:{port}{path}: {e}") from e
            time.sleep(0.3)


def healthy(store, name: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while (state := store("inspect", "-f", "{{.State.Status}} {{.State.Health.Status}}", name).out.split()) \
            != ["running", "healthy"]:
        assert state == ["running", "starting"] and time.monotonic() < deadline, \
            f"{name} is {state}:\n{store('inspect', '-f', '{{json .State.Health}}', name).out}\n" \
            f"{store('logs', name, check=False).err}"
        time.sleep(0.5)


def test_postgres_first_start(seed, tmp_path):
    """The postgres:15 stand-in's first start as the official image's: no password, no start;
    POSTGRES_USER/POSTGRES_DB taken literally (spaces, quotes, semicolons are a name, not SQL);
    /docker-entrypoint-initdb.d's *.sql and *.sh run once, in order, in that database."""
    s = seed
    p = s("run", "--rm", "postgres:15", check=False, timeout=60)
    assert p.returncode == 1 and "POSTGRES_PASSWORD is not set" in p.err + p.out
    assert s("ps", "-aq").out == ""
    init = tmp_path / "initdb"
    init.mkdir()
    (init / "01-schema.sql").write_text("CREATE TABLE notes (note text);\nINSERT INTO notes VALUES ('from initdb.d');\n")
    (init / "02-more.sh").write_text('"${psql[@]}" --dbname "$db" -c "INSERT INTO notes VALUES (\'from a script\')"\n')
    (init / "README").write_text("not run\n")
    db = 'we"ird; DROP DATABASE postgres; --'
    s("run", "-d", "--name", "pg1", "-v", f"{init}:/docker-entrypoint-initdb.d:ro", "-e", "POSTGRES_PASSWORD=pw",
      "-e", "POSTGRES_USER=seed admin", "-e", f"POSTGRES_DB={db}", "postgres:15")
    healthy(s, "pg1")
    psql = ("exec", "pg1", "psql", "-U", "seed admin", "-tA")
    names = s(*psql, "-d", "postgres", "-c", "SELECT datname FROM pg_database ORDER BY 1").out.splitlines()
    assert names == ["postgres", "template0", "template1", db], names
    assert s(*psql, "-d", db, "-c", "SELECT note FROM notes ORDER BY 1").out == "from a script\nfrom initdb.d\n"
    log = s("logs", "pg1").out
    assert "running /docker-entrypoint-initdb.d/01-schema.sql" in log and "ignoring /docker-entrypoint-initdb.d/README" in log
    assert s(*psql, "-d", "postgres", "-c", "SHOW server_encoding").out == "UTF8\n"


def test_web_install_step_checks_versions(seed, tmp_path):
    """The web Dockerfile's install step (Debian's node modules for npm's) fails the build when a
    module there does not satisfy package.json, as `npm ci` would."""
    ctx = tmp_path / "web"
    shutil.copytree(os.path.join(SEED, "web"), ctx)
    ok = seed("build", "-t", "seed-web:check", str(ctx), timeout=300).out
    assert "Using cache" in ok or ("pg@8.8.0 satisfies ^8.8.0" in ok and "redis@4.5.1 satisfies ^4.5.1" in ok), ok
    (ctx / "package.json").write_text('{"name": "w", "dependencies": {"pg": "^9.0.0", "redis": "^4.5.1"}}\n')
    bad = seed("build", "-t", "seed-web:bad", str(ctx), check=False, timeout=300)
    assert bad.returncode != 0 and "pg@8.8.0 does not satisfy ^9.0.0" in bad.out + bad.err, bad.out + bad.err
    assert "seed-web:bad" not in seed("images", "--format", "{{.Repository}}:{{.Tag}}").out


def test_seed_images_on_a_user_network(seed):
    """The three images by hand: postgres initialises from its environment and checks passwords,
    redis answers, the app counts in both, and the database outlives its container."""
    s = seed
    net = "seed-" + uuid.uuid4().hex[:8]
    s("network", "create", net)
    db = ("run", "-d", "--name", "db", "--network", net, "-v", "seed_pgdata:/var/lib/postgresql/data")
    s(*db, "-e", "POSTGRES_USER=seed", "-e", "POSTGRES_PASSWORD=s3cret", "-e", "POSTGRES_DB=seed", "postgres:15")
    s("run", "-d", "--name", "redis", "--network", net, "redis:7-alpine")
    healthy(s, "db")
    healthy(s, "redis")
    # The servers run as their own users, not root.
    assert s("exec", "db", "stat", "-c", "%U", "/proc/1").out == "postgres\n"
    assert s("exec", "redis", "id", "-un").out == "redis\n"

    s("build", "-t", "seed-web:test", os.path.join(SEED, "web"), timeout=300)
    port = free_port()
    s("run", "-d", "--name", "web", "--network", net, "-p", f"127.0.0.1:{port}:3000",
      "-e", "DATABASE_URL=postgres://seed:s3cret@db:5432/seed", "-e", "REDIS_URL=redis://redis:6379", "seed-web:test")
    assert get(port) == "visits=1 rows=1\n"
    assert get(port) == "visits=2 rows=2\n"
    assert s("exec", "web", "id", "-un").out == "appuser\n"
    # Network clients need the password.
    bad = s("exec", "web", "psql", "postgres://seed:wrong@db/seed", "-c", "SELECT 1", check=False)
    assert bad.returncode != 0 and 'password authentication failed for user "seed"' in bad.err
    assert s("exec", "web", "psql", "postgres://seed:s3cret@db/seed", "-tAc", "SELECT count(*) FROM visits").out \
        == "2\n"

    # A new db container on the same volume: the rows are still there, initialisation is skipped
    # (no password needed), and the app reconnects by itself.
    s("rm", "-f", "db")
    s(*db, "postgres:15")
    healthy(s, "db")
    assert "PostgreSQL init process complete" not in s("logs", "db").out
    assert get(port) == "visits=3 rows=3\n"
    for c in ("web", "db", "redis"):
        t0 = time.monotonic()
        s("stop", c)  # each stops on its stop signal, not after the 10 s kill timeout
        assert time.monotonic() - t0 < 8, f"{c} took {time.monotonic() - t0:.1f}s to stop"
        assert s("inspect", "-f", "{{.State.ExitCode}}", c).out.strip() == "0", c


def test_seed_compose_stack(seed, tmp_path):
    """The seed's compose file: `up -d --wait` builds the three images and starts db and redis before
    web (healthy first); the app answers on its port; `down` + `up` keeps the rows (named volume);
    `down -v` leaves no container, network or volume of the project."""
    s = seed
    project = tmp_path / "seed"
    shutil.copytree(SEED, project)
    port = free_port()

    def compose(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
        p = subprocess.run(s.cmd("compose", *args), env=dict(s.env, WEB_PORT=f"127.0.0.1:{port}"),
                           cwd=str(project), capture_output=True, text=True, timeout=timeout)
        assert p.returncode == 0, f"compose {' '.join(args)} exited {p.returncode}:\n{p.stderr}{p.stdout}"
        assert "Traceback" not in p.stderr, p.stderr
        return p

    def volumes() -> set[str]:
        return set(s("volume", "ls", "-q").out.split())

    # From nothing but the base, as a user starts: `up` builds all three images (the stand-ins
    # under their image names, web as <project>-web).
    s("rmi", "postgres:15", "redis:7-alpine")
    assert "seed-web:latest" not in s("images", "--format", "{{.Repository}}:{{.Tag}}").out.split()
    t0 = time.monotonic()
    out = compose("up", "-d", "--wait", timeout=600).stderr  # progress, as Compose v2 writes it
    up_s = time.monotonic() - t0
    for svc in ("db", "redis", "web"):
        assert f"Service {svc}  Built" in out, out
    images = s("images", "--format", "{{.Repository}}:{{.Tag}}").out.split()
    assert {"postgres:15", "redis:7-alpine", "seed-web:latest"} <= set(images), images
    # web waits for its dependencies' health checks, then is itself waited for.
    assert out.index("seed-db-1  Healthy") < out.index("seed-web-1  Started"), out
    assert out.index("seed-redis-1  Healthy") < out.index("seed-web-1  Started"), out
    assert "seed-web-1  Healthy" in out, out
    ps = compose("ps", "--format", "{{.Service}} {{.Status}}").stdout
    assert sorted(line.split(" ", 1)[0] for line in ps.splitlines() if "(healthy)" in line) == ["db", "redis", "web"], ps
    assert compose("port", "web", "3000").stdout == f"127.0.0.1:{port}\n"
    assert get(port) == "visits=1 rows=1\n"
    assert get(port) == "visits=2 rows=2\n"
    labels = s("inspect", "-f", '{{index .Config.Labels "com.docker.compose.project"}} '
               '{{index .Config.Labels "com.docker.compose.service"}}', "seed-web-1").out
    assert labels == "seed web\n"

    compose("down")
    assert s("ps", "-aq").out == ""
    assert "seed_default" not in s("network", "ls", "--format", "{{.Name}}").out
    kept = volumes()
    # The named volume, and redis's anonymous /data, which `down` keeps as Docker Compose keeps it.
    assert "seed_postgres_data" in kept and len(kept) == 2, kept

    t0 = time.monotonic()
    compose("up", "-d", "--wait", timeout=300)
    again_s = time.monotonic() - t0
    # The rows are on the named volume; redis's counter was on an anonymous volume, and a new
    # container gets a new one, as with Docker Compose.
    assert get(port) == "visits=1 rows=3\n"

    compose("down", "-v")
    assert s("ps", "-aq").out == ""
    assert "seed_default" not in s("network", "ls", "--format", "{{.Name}}").out
    # The project's volumes are gone: the named one and the running redis's anonymous one. What
    # remains is the first redis's anonymous volume, which `down` without -v left (as Docker Compose).
    assert volumes() == kept - {"seed_postgres_data"}, (kept, volumes())
    with pytest.raises(AssertionError):
        get(port, timeout=1)
    print(f"\ncompose up -d --wait (three images built) {up_s:.1f}s, again after down {again_s:.1f}s")
