"""dockyard: a Docker-compatible, daemonless container engine.

Kept empty on purpose: `dockyard run` imports only what it uses (see docs/architecture.md).
"""

__version__ = "0.1.0"
