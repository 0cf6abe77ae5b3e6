"""Compose projects: loading a Compose file set into Compose v2's normalized model
(`loader.load_project`), and, above it, running a project over the engine."""
