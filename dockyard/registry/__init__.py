"""Talking to OCI distribution registries: the client (pull, push, auth) and the server."""
