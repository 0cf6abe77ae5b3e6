"""The network of played pods, `dockyard-kube`: every infra container joins it with the names of
the Services selecting its pod as aliases, so its embedded DNS answers a Service's name with
the pod, as cluster DNS would. Made on first use, removed when the last pod goes."""

from __future__ import annotations

from dockyard.errors import DockyardError

NETWORK = "dockyard-kube"


def ensure_network(engine) -> None:
    from dockyard.engine.networking import create
    from dockyard.errors import AlreadyExists
    from dockyard.state.networks import find_network

    if find_network(engine.db, NETWORK) is None:
        try:
            create(engine, NETWORK, labels={"io.dockyard.kube.network": "true"})
        except AlreadyExists:
            pass  # another play made it meanwhile


def remove_network_if_unused(engine) -> None:
    from dockyard.engine.networking import remove, users_of
    from dockyard.state.networks import find_network

    rec = find_network(engine.db, NETWORK)
    if rec is not None and not users_of(engine, rec):
        try:
            remove(engine, NETWORK)
        except DockyardError:
            pass  # a play started using it meanwhile
