"""FOVEA backend: the annotation API on PostgreSQL + pgvector and Redis (see ../README.md)."""

__version__ = "0.1.0"
