"""``quantflow user add NAME [--admin]``: a user who can log in to the GraphQL API.

The password comes from a prompt (asked twice) or, with ``--password-stdin``, from the first
line of standard input (for scripts: ``printf %s "$PW" | quantflow user add bob
--password-stdin``); never from the command line, where ``ps`` and shell history would
show it. The database is the one ``quantflow import`` uses (QUANTFLOW_DATABASE_URL, else
the running or stopped laptop stack's).
"""

from __future__ import annotations

import getpass
from typing import TextIO

import asyncpg

from services.cli.import_ import ImportFailed, database
from services.common.auth.passwords import WeakPassword
from services.common.auth.store import AuthStore, User
from services.common.errors import QuantflowError
from services.common.settings import Settings, mask_password
from services.storage.migrations import prepare_schema


class UserCommandFailed(Exception):
    pass


def read_password(stdin: TextIO, from_stdin: bool) -> str:
    if from_stdin:
        return stdin.readline().rstrip("\r\n")
    first = getpass.getpass("password: ")
    if getpass.getpass("again: ") != first:
        raise UserCommandFailed("the two passwords differ")
    return first


async def add_user(settings: Settings, name: str, password: str, *, admin: bool) -> User:
    try:
        async with database(settings) as url:
            try:
                conn = await asyncpg.connect(url)
                try:
                    await prepare_schema(conn)
                finally:
                    await conn.close()
                pool = await asyncpg.create_pool(url, min_size=1, max_size=1)
                try:
                    return await AuthStore(pool).add_user(name, password, admin=admin)
                finally:
                    await pool.close()
            except (OSError, asyncpg.PostgresError) as error:
                raise UserCommandFailed(f"PostgreSQL at {mask_password(url)}: {error}") from None
    except (QuantflowError, WeakPassword, ImportFailed) as error:
        raise UserCommandFailed(str(error)) from None


def describe(user: User) -> str:
    role = "an admin" if user.admin else "a user"
    return f"added {user.name!r} ({role}); log in with the login mutation"
