"""The backend's SQL, by concern: route handlers and services call these functions and never write SQL themselves.

Reads return what PostgreSQL rendered (the JSON expressions of render.py, passed through as text: see db.py for why);
tests/backend/test_response_contract.py holds each route's answer to its declared response model.
"""
