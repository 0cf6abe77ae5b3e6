"""The seed's Node app on a Debian base made offline (`bootstrap debian --include nodejs`, the
session's `debian_base`): slow tier.

npm is left out of the base (Debian's npm package pulls in hundreds of packages and `npm ci`
would reach for a registry, which tests must not): the install step reads package.json with node
itself. Everything else is the seed's Dockerfile as written.
"""

import shutil

import pytest

DOCKERFILE = """\
FROM debian:node
WORKDIR /app
COPY package*.json ./
RUN node -e "const p = require('./package.json'); require('fs').writeFileSync('deps.txt', 'installed ' + p.name)"
COPY . .
EXPOSE 3000
CMD ["node", "server.js"]
"""


@pytest.mark.slow
@pytest.mark.skipif(not shutil.which("debootstrap"), reason="debootstrap not installed")
def test_node_seed_app_on_a_debian_base(dy, tmp_path, debian_base):
    assert "nodejs" in debian_base.packages
    debian_base.load(dy, "debian:node")
    ctx = tmp_path / "app"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text(DOCKERFILE)
    (ctx / "package.json").write_text('{"name": "seed-app", "version": "1.0.0"}\n')
    (ctx / "server.js").write_text('console.log(require("fs").readFileSync("deps.txt", "utf8"), "on node",'
                                   ' process.version.split(".")[0])\n')
    dy("build", "-t", "my-app:v1.0.0", str(ctx), timeout=600)
    assert dy("run", "--rm", "my-app:v1.0.0", timeout=120).out == "installed seed-app on node v18\n"
    assert "Using cache" in dy("build", "-t", "my-app:v1.0.0", str(ctx), timeout=600).out
