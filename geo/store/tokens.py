"""API tokens: random secrets shown once, stored as SHA-256 hashes.

The secrets are 256-bit random values, so a fast hash is enough (no password stretching
is needed against guessing); the database never holds a usable secret.
"""
from __future__ import annotations

import hashlib
import secrets

import sqlalchemy as sa

from geo.store.db import now
from geo.errors import Forbidden, InputError, NotFound, Unauthorized
from geo.store.tables import tokens

ROLES = ("reader", "planner", "admin")
WRITE_ROLES = ("planner", "admin")


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def create_token(conn: sa.Connection, *, role: str, name: str | None = None) -> tuple[int, str]:
    """Create a token; return ``(id, secret)``. The secret is not stored."""
    if role not in ROLES:
        raise InputError(f"role must be one of {', '.join(ROLES)}", field="role")
    secret = "yz_" + secrets.token_urlsafe(32)
    res = conn.execute(tokens.insert().values(name=name or role, role=role, secret_hash=_hash(secret),
                                              created_at=now()).returning(tokens.c.id))
    return res.scalar_one(), secret


def revoke_token(conn: sa.Connection, token_id: int) -> None:
    res = conn.execute(tokens.update().where(tokens.c.id == token_id, tokens.c.revoked_at.is_(None))
                       .values(revoked_at=now()))
    if res.rowcount == 0:
        exists = conn.execute(sa.select(tokens.c.id).where(tokens.c.id == token_id)).first()
        raise NotFound(f"token {token_id} " + ("is already revoked" if exists else "does not exist"))


def list_tokens(conn: sa.Connection):
    return conn.execute(sa.select(tokens.c.id, tokens.c.name, tokens.c.role, tokens.c.created_at,
                                  tokens.c.revoked_at).order_by(tokens.c.id)).all()


def authorize(conn: sa.Connection, secret: str | None, *, roles=WRITE_ROLES):
    """The token row for ``secret`` if it may act with one of ``roles``."""
    if not secret:
        raise Unauthorized("this needs a token: Authorization: Bearer TOKEN "
                           "(create one with `yizhan token create --role planner`)")
    row = conn.execute(sa.select(tokens).where(tokens.c.secret_hash == _hash(secret))).first()
    if row is None or row.revoked_at is not None:
        raise Unauthorized("unknown or revoked token")
    if row.role not in roles:
        raise Forbidden(f"a {row.role} token may not do this (needs {' or '.join(roles)})")
    return row
