"""Dockerfile → image. This package's pure layer: ``dockerfile`` (parser) and ``context``
(.dockerignore). ``cache`` and ``build`` execute what the parser produces."""
