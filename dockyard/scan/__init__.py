"""Offline vulnerability scanning: OSV records (a directory, a zip, or an imported SQLite index)
matched against an image's packages with each ecosystem's own version ordering."""
