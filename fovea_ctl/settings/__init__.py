"""The project's settings and what they are read from.

Empty on purpose: `fovea status` imports `fingerprint` and `private_files` without pydantic.
"""
