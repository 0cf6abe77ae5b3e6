"""The Docker Engine API over dockyard's engine (`dockyard system service`): a thin shell, as cli/."""
