"""Container networking: takes a network namespace (a pid or path), never a container."""
