"""The pod infra ("pause") image, made offline from this machine's static busybox: the infra
container of a pod only holds its network, IPC and UTS namespaces. Its process waits, and exits
at once on SIGTERM (a PID 1 ignores signals it has no handler for)."""

from __future__ import annotations

import os

INFRA_IMAGE = "localhost/dockyard/pause:busybox"
PAUSE = ["/bin/sh", "-c", "trap 'exit 0' TERM INT; while :; do sleep 86400 & wait $!; done"]


def ensure_infra_image(engine, busybox: str = "/bin/busybox") -> str:
    """The infra image's name, made in this store the first time."""
    from dockyard.errors import ImageNotFound

    try:
        engine.images.resolve(INFRA_IMAGE)
        return INFRA_IMAGE
    except ImageNotFound:
        pass
    import tempfile

    from dockyard.errors import InvalidArgument, NotFound
    from dockyard.images.bootstrap import PATH_ENV, is_static_elf, make_busybox_rootfs
    from dockyard.images.layers import layer_from_dir
    from dockyard.oci.platform import go_arch
    from dockyard.ownership import owner_tag

    if not os.path.exists(busybox) or not is_static_elf(busybox):
        raise (NotFound if not os.path.exists(busybox) else InvalidArgument)(
            f"the pod infra image is made from a static {busybox}", hint="apt-get install -y busybox-static")
    created = "1970-01-01T00:00:00Z"
    with engine.lease():  # until the image is recorded, `rmi` keeps its layer
        with tempfile.TemporaryDirectory(dir=engine.tmp_dir(), prefix=f"pause-{owner_tag()}-") as d:
            make_busybox_rootfs(d, busybox)
            desc, diff_id, _ = layer_from_dir(engine.content, d, tmp_dir=engine.tmp_dir(), mtime_clamp=0)
        config = {"architecture": go_arch(), "os": "linux", "created": created,
                  "config": {"Env": [PATH_ENV], "Cmd": PAUSE, "StopSignal": "SIGTERM",
                             "Labels": {"io.dockyard.pod.infra-image": "true"}},
                  "rootfs": {"type": "layers", "diff_ids": [diff_id]},
                  "history": [{"created": created, "created_by": "dockyard kube play: pod infra image (busybox)"}]}
        engine.images.add(config, [desc], [INFRA_IMAGE])
    return INFRA_IMAGE
