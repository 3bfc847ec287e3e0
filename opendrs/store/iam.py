"""Domains, users, projects and access keys."""

from __future__ import annotations

import dataclasses
from typing import Any

import sqlalchemy as sa

from opendrs.store.schema import access_keys, domains, projects, users


@dataclasses.dataclass(frozen=True)
class Named:
    id: str
    name: str


@dataclasses.dataclass(frozen=True)
class User:
    id: str
    name: str
    domain: Named
    password_hash: str


@dataclasses.dataclass(frozen=True)
class Project:
    id: str
    name: str
    domain: Named


@dataclasses.dataclass(frozen=True)
class AccessKey:
    access: str
    secret_encrypted: str
    user_id: str
    domain_id: str


def find_domain(connection: sa.Connection, *, name: str | None = None, id: str | None = None) -> Named | None:
    condition = domains.c.name == name if name is not None else domains.c.id == id
    row = connection.execute(sa.select(domains.c.id, domains.c.name).where(condition)).first()
    return Named(row.id, row.name) if row else None


def insert_domain(connection: sa.Connection, domain: Named, now: int) -> None:
    connection.execute(domains.insert().values(id=domain.id, name=domain.name, created_at=now))


def find_user(
    connection: sa.Connection, *, domain_id: str | None = None, name: str | None = None, id: str | None = None
) -> User | None:
    query = sa.select(users, domains.c.name.label("domain_name")).join(domains, domains.c.id == users.c.domain_id)
    if id is not None:
        query = query.where(users.c.id == id)
    else:
        query = query.where(users.c.domain_id == domain_id, users.c.name == name)
    row = connection.execute(query).first()
    return _user(row) if row else None


def insert_user(connection: sa.Connection, user: User, now: int) -> None:
    connection.execute(
        users.insert().values(
            id=user.id, domain_id=user.domain.id, name=user.name, password_hash=user.password_hash, created_at=now
        )
    )


def update_password_hash(connection: sa.Connection, user_id: str, password_hash: str) -> None:
    connection.execute(users.update().where(users.c.id == user_id).values(password_hash=password_hash))


def find_project(
    connection: sa.Connection, *, domain_id: str | None = None, name: str | None = None, id: str | None = None
) -> Project | None:
    query = sa.select(projects, domains.c.name.label("domain_name")).join(domains, domains.c.id == projects.c.domain_id)
    if id is not None:
        query = query.where(projects.c.id == id)
    else:
        query = query.where(projects.c.domain_id == domain_id, projects.c.name == name)
    row = connection.execute(query).first()
    return _project(row) if row else None


def list_projects(connection: sa.Connection, domain_id: str, name: str | None) -> list[Project]:
    query = (
        sa.select(projects, domains.c.name.label("domain_name"))
        .join(domains, domains.c.id == projects.c.domain_id)
        .where(projects.c.domain_id == domain_id)
        .order_by(projects.c.name)
    )
    if name is not None:
        query = query.where(projects.c.name == name)
    return [_project(row) for row in connection.execute(query)]


def insert_project(connection: sa.Connection, project: Project, now: int) -> None:
    connection.execute(
        projects.insert().values(id=project.id, domain_id=project.domain.id, name=project.name, created_at=now)
    )


def insert_access_key(connection: sa.Connection, key: AccessKey, now: int) -> None:
    connection.execute(
        access_keys.insert().values(
            access=key.access, user_id=key.user_id, secret_encrypted=key.secret_encrypted, created_at=now
        )
    )


def find_access_key(connection: sa.Connection, access: str) -> AccessKey | None:
    row = connection.execute(
        sa.select(access_keys.c.access, access_keys.c.secret_encrypted, access_keys.c.user_id, users.c.domain_id)
        .join(users, users.c.id == access_keys.c.user_id)
        .where(access_keys.c.access == access)
    ).first()
    return AccessKey(row.access, row.secret_encrypted, row.user_id, row.domain_id) if row else None


def _user(row: sa.Row[Any]) -> User:
    return User(row.id, row.name, Named(row.domain_id, row.domain_name), row.password_hash)


def _project(row: sa.Row[Any]) -> Project:
    return Project(row.id, row.name, Named(row.domain_id, row.domain_name))
