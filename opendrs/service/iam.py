"""Identity: users, projects, access keys, and the tokens and signatures that authenticate requests."""

from __future__ import annotations

import dataclasses
import time

import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from opendrs.domain import errors, ids, tokens
from opendrs.domain.errors import OpendrsError, Text
from opendrs.domain.times import now_ms
from opendrs.keys import Keys
from opendrs.store import database
from opendrs.store import iam as store
from opendrs.store.iam import Named, Project, User


@dataclasses.dataclass(frozen=True)
class Identity:
    """Who made a request, and which project it may act on (None: a domain-scoped token)."""

    user_id: str
    domain_id: str
    project_id: str | None


@dataclasses.dataclass(frozen=True)
class IssuedToken:
    token: str
    claims: tokens.Claims
    user: User
    project: Project | None
    domain: Named


@dataclasses.dataclass(frozen=True)
class Credentials:
    """The password method of a Keystone token request: a user by id, or by name within a domain."""

    password: str
    user_id: str | None = None
    user_name: str | None = None
    domain_id: str | None = None
    domain_name: str | None = None


@dataclasses.dataclass(frozen=True)
class Scope:
    project_id: str | None = None
    project_name: str | None = None
    project_domain_id: str | None = None
    project_domain_name: str | None = None
    domain_id: str | None = None
    domain_name: str | None = None


TOKEN_MISSING = Text("x-auth-token not found", "未找到x-auth-token")
TOKEN_FORGED = Text("decrypt token fail", "令牌解析失败")
TOKEN_EXPIRED = Text("token expires, expires_at: {expires_at}", "令牌已过期，过期时间：{expires_at}")
SCOPE_UNKNOWN = Text("the requested scope does not exist or is not the user's", "请求的作用域不存在或不属于该用户")


class IamService:
    def __init__(self, engine: sa.Engine, keys: Keys, token_ttl_seconds: int) -> None:
        self._engine = engine
        self._keys = keys
        self._ttl = token_ttl_seconds
        self._hasher = PasswordHasher()

    # Administration (the command line) -------------------------------------------------------

    def create_user(self, domain_name: str, user_name: str, password: str, project_name: str) -> dict[str, str]:
        """Create the user (and its domain and project where missing); a known user gets the new password."""
        now = now_ms()
        with database.writing(self._engine) as connection:
            domain = store.find_domain(connection, name=domain_name)
            if domain is None:
                domain = Named(ids.new_hex32(), domain_name)
                store.insert_domain(connection, domain, now)
            password_hash = self._hasher.hash(password)
            user = store.find_user(connection, domain_id=domain.id, name=user_name)
            if user is None:
                user = User(ids.new_hex32(), user_name, domain, password_hash)
                store.insert_user(connection, user, now)
            else:
                store.update_password_hash(connection, user.id, password_hash)
            project = store.find_project(connection, domain_id=domain.id, name=project_name)
            if project is None:
                project = Project(ids.new_hex32(), project_name, domain)
                store.insert_project(connection, project, now)
        return {"domain_id": domain.id, "user_id": user.id, "project_id": project.id}

    def create_access_key(self, domain_name: str, user_name: str) -> dict[str, str]:
        with database.writing(self._engine) as connection:
            domain = store.find_domain(connection, name=domain_name)
            user = store.find_user(connection, domain_id=domain.id, name=user_name) if domain else None
            if user is None:
                raise LookupError(f"no user {user_name!r} in domain {domain_name!r}")
            access, secret = ids.new_access_key(), ids.new_secret_key()
            key = store.AccessKey(access, self._keys.encrypt(secret), user.id, user.domain.id)
            store.insert_access_key(connection, key, now_ms())
        return {"access": access, "secret": secret}

    # Tokens ------------------------------------------------------------------------------------

    def issue_token(self, credentials: Credentials, scope: Scope) -> IssuedToken:
        with database.reading(self._engine) as connection:
            user = self._authenticate(connection, credentials)
            project, domain = self._resolve_scope(connection, user, scope)
        issued = time.time()
        claims = tokens.Claims(user.id, user.domain.id, project.id if project else None, issued, issued + self._ttl)
        return IssuedToken(tokens.encode(claims, self._keys.token_key), claims, user, project, domain)

    def verify_token(self, token: str | None) -> Identity:
        if not token:
            raise OpendrsError(errors.UNAUTHENTICATED, reason=TOKEN_MISSING)
        try:
            claims = tokens.decode(token, self._keys.token_key)
        except tokens.TokenError:
            raise OpendrsError(errors.UNAUTHENTICATED, reason=TOKEN_FORGED) from None
        if claims.expires_at <= time.time():
            expired = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(claims.expires_at))
            raise OpendrsError(errors.UNAUTHENTICATED, reason=TOKEN_EXPIRED(expires_at=expired))
        return Identity(claims.user_id, claims.domain_id, claims.project_id)

    def projects(self, domain_id: str, name: str | None) -> list[Project]:
        with database.reading(self._engine) as connection:
            return store.list_projects(connection, domain_id, name)

    def project(self, project_id: str) -> Project | None:
        with database.reading(self._engine) as connection:
            return store.find_project(connection, id=project_id)

    def access_key(self, access: str) -> tuple[str, Identity] | None:
        """The secret of an access key and whose key it is; None for an unknown key."""
        with database.reading(self._engine) as connection:
            key = store.find_access_key(connection, access)
        if key is None:
            return None
        return self._keys.decrypt(key.secret_encrypted), Identity(key.user_id, key.domain_id, None)

    def names(self, identity: Identity) -> tuple[str, str]:
        """(domain name, user name) of the caller."""
        with database.reading(self._engine) as connection:
            user = store.find_user(connection, id=identity.user_id)
        return (user.domain.name, user.name) if user else ("", "")

    def _authenticate(self, connection: sa.Connection, credentials: Credentials) -> User:
        user = None
        if credentials.user_id:
            user = store.find_user(connection, id=credentials.user_id)
        else:
            domain = store.find_domain(connection, id=credentials.domain_id, name=credentials.domain_name)
            if domain and credentials.user_name:
                user = store.find_user(connection, domain_id=domain.id, name=credentials.user_name)
        if user is None or not self._password_matches(user.password_hash, credentials.password):
            raise OpendrsError(errors.BAD_CREDENTIALS)
        return user

    def _password_matches(self, password_hash: str, password: str) -> bool:
        try:
            return self._hasher.verify(password_hash, password)
        except (VerificationError, InvalidHashError):
            return False

    def _resolve_scope(self, connection: sa.Connection, user: User, scope: Scope) -> tuple[Project | None, Named]:
        if scope.project_id or scope.project_name:
            project = self._find_scoped_project(connection, user, scope)
            if project is None or project.domain.id != user.domain.id:
                raise OpendrsError(errors.UNAUTHENTICATED, reason=SCOPE_UNKNOWN)
            return project, project.domain
        foreign_id = scope.domain_id not in (None, user.domain.id)
        if foreign_id or scope.domain_name not in (None, user.domain.name):
            raise OpendrsError(errors.UNAUTHENTICATED, reason=SCOPE_UNKNOWN)
        return None, user.domain

    def _find_scoped_project(self, connection: sa.Connection, user: User, scope: Scope) -> Project | None:
        if scope.project_id:
            return store.find_project(connection, id=scope.project_id)
        domain_id = scope.project_domain_id
        if domain_id is None and scope.project_domain_name is not None:
            domain = store.find_domain(connection, name=scope.project_domain_name)
            domain_id = domain.id if domain else None
        return store.find_project(connection, domain_id=domain_id or user.domain.id, name=scope.project_name)
