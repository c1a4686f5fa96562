"""Apply a new value of a secret the backend keeps a copy of in its data; run as
`python3 -m fovea_backend.apply_secret admin-password` with the value on stdin.

The stack declares this command as how `admin_password` is applied (`Secret(applied_by=…)`): `fovea secrets
rotate` and `fovea restore` run it in the backend's container, so only this service knows its tables. The
value comes on stdin, never in argv or env. One transaction: exit 0 and one line on stdout saying what now
holds the value; exit 1 (the reason on stderr) and nothing changed; exit 2 for a wrong call.

The admin row is seeded once from the secret file; after that the file alone changes nothing, hence this.
Only the columns the first schema has are written (`users.password_hash`, `sessions`): a restore runs it on
the restored data before that data's migrations run again.
"""

from __future__ import annotations

import sys

import psycopg

from fovea_backend.auth import hash_password
from fovea_backend.settings import ConfigError, Settings, load_settings

ADMIN = "admin"


def set_admin_password(settings: Settings, password: str) -> str:
    """The admin's new hash, and the end of every session the admin had: a password change locks out
    whoever held the old one, signed in or not (one transaction: both or neither)."""
    hashed = hash_password(password)  # before connecting: bcrypt takes a while, the transaction does not wait on it
    with psycopg.connect(**settings.db_kwargs()) as conn:  # type: ignore[arg-type]  # kwargs typed loosely by Settings
        row = conn.execute("UPDATE users SET password_hash = %s WHERE username = %s RETURNING id",
                           (hashed, ADMIN)).fetchone()
        if row is None:
            return "no admin user yet (the backend seeds it from the new value)"
        ended = conn.execute("DELETE FROM sessions WHERE user_id = %s", (row[0],)).rowcount
    return f"the backend's admin user (its {ended} session{'' if ended == 1 else 's'} ended)"


APPLIERS = {"admin-password": set_admin_password}


def main(argv: list[str]) -> int:
    if len(argv) != 1 or argv[0] not in APPLIERS:
        print(f"usage: python3 -m fovea_backend.apply_secret {{{'|'.join(APPLIERS)}}} < value", file=sys.stderr)
        return 2
    value = sys.stdin.read().strip()  # as the backend reads its secret files (settings.read_secret)
    if not value:
        print(f"apply_secret: {argv[0]}: no value on stdin", file=sys.stderr)
        return 2
    try:
        print(APPLIERS[argv[0]](load_settings(), value))
    except ConfigError as exc:
        print(f"apply_secret: {exc}", file=sys.stderr)
        return 1
    except psycopg.Error as exc:
        print(f"apply_secret: {argv[0]} not applied, database error: {exc}".strip(), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
