"""Data safety: backup (create, verify, prune), restore and its journal, secret rotation.
"""
