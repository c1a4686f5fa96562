"""`python3 -m fovea_backend.users VERB ...`: account administration from inside the backend container, what
`fovea users` runs (so the CLI needs no knowledge of the tables). Answers one JSON document on stdout; bad
input exits 2 with the reason on stderr and changes nothing. A password is only ever read from stdin.

    add NAME --role ROLE [--password-stdin]   list   disable NAME   enable NAME   role NAME ROLE   reset-password NAME
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

import psycopg

from fovea_backend import accounts
from fovea_backend.errors import ApiError
from fovea_backend.roles import Role
from fovea_backend.settings import ConfigError, load_settings


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python3 -m fovea_backend.users", description="FOVEA user accounts")
    verbs = parser.add_subparsers(dest="verb", required=True)
    add = verbs.add_parser("add", help="make an account")
    add.add_argument("name")
    add.add_argument("--role", required=True, choices=[role.value for role in Role])
    add.add_argument("--password-stdin", action="store_true", help="read the password from stdin (else one is generated)")
    verbs.add_parser("list", help="every account")
    for verb in ("disable", "enable", "reset-password"):
        verbs.add_parser(verb).add_argument("name")
    role = verbs.add_parser("role", help="change an account's role")
    role.add_argument("name")
    role.add_argument("role", choices=[role.value for role in Role])
    return parser


def _stdin_password() -> str:
    password = sys.stdin.read().rstrip("\r\n")  # `echo pw |` and a here-string end with a newline
    if not password:
        raise ApiError(422, "--password-stdin: nothing on standard input", ("stdin",))
    return password


def run(conn: psycopg.Connection, args: argparse.Namespace) -> Any:
    if args.verb == "add":
        account, generated = accounts.create(conn, args.name, args.role, _stdin_password() if args.password_stdin else None)
        return {"user": account.as_json(), "oneTimePassword": generated}
    if args.verb == "list":
        return [account.as_json() for account in accounts.list_accounts(conn)]
    if args.verb in ("disable", "enable"):
        return accounts.set_disabled(conn, args.name, args.verb == "disable").as_json()
    if args.verb == "role":
        return accounts.set_role(conn, args.name, args.role).as_json()
    account, generated = accounts.reset_password(conn, args.name)
    return {"user": account.as_json(), "oneTimePassword": generated}


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        settings = load_settings()
        with psycopg.connect(**settings.db_kwargs()) as conn:  # type: ignore[arg-type]
            answer = run(conn, args)  # committed when the block ends without an error
    except ApiError as exc:
        where = ".".join(str(part) for part in exc.field if part not in ("body", "path"))
        print(f"users {args.verb}: {where + ': ' if where else ''}{exc.message}", file=sys.stderr)
        return 2
    except ConfigError as exc:
        print(f"users {args.verb}: {exc}", file=sys.stderr)
        return 1
    except psycopg.Error as exc:
        print(f"users {args.verb}: database error: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(answer, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
