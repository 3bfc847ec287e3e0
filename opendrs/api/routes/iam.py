"""IAM, Keystone v3 style (spec/AUTH.md 7): version document, password tokens, project lookup."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field

from opendrs.api import context
from opendrs.api.responses import Json
from opendrs.api.schemas.common import Strict
from opendrs.domain import errors, times
from opendrs.domain.errors import OpendrsError, Text
from opendrs.service.iam import Credentials, IssuedToken, Scope

router = APIRouter(tags=["IAM"])

_PASSWORD_ONLY = Text("identity.methods must include password", "identity.methods必须包含password")
_NO_USER = Text(
    "identity.password.user needs an id, or a name and a domain", "identity.password.user需要id，或name和domain"
)


class DomainRef(Strict):
    id: str | None = None
    name: str | None = None


class UserRef(Strict):
    id: str | None = None
    name: str | None = None
    password: str
    domain: DomainRef | None = None


class PasswordMethod(Strict):
    user: UserRef


class IdentityBody(Strict):
    methods: list[str]
    password: PasswordMethod | None = None


class ProjectRef(Strict):
    id: str | None = None
    name: str | None = None
    domain: DomainRef | None = None


class ScopeBody(Strict):
    project: ProjectRef | None = None
    domain: DomainRef | None = None


class AuthBody(Strict):
    identity: IdentityBody
    scope: ScopeBody | None = None


class TokenRequest(Strict):
    auth: AuthBody


class TokenResponse(BaseModel):
    token: dict[str, Any] = Field(description="Keystone v3 token body; the token itself is in X-Subject-Token.")


@router.get("/v3", summary="Identity API version document (Keystone discovery)")
def version(request: Request) -> Json:
    base = _base_url(request)
    return Json(
        {
            "version": {
                "id": "v3.0",
                "status": "stable",
                "updated": "2024-01-01T00:00:00Z",
                "links": [{"rel": "self", "href": f"{base}/v3/"}],
                "media-types": [{"base": "application/json", "type": "application/vnd.openstack.identity-v3+json"}],
            }
        }
    )


@router.post(
    "/v3/auth/tokens",
    status_code=201,
    responses={201: {"model": TokenResponse, "headers": {"X-Subject-Token": {"schema": {"type": "string"}}}}},
    summary="Get a token with a password (project- or domain-scoped)",
)
def issue_token(body: TokenRequest, request: Request, nocatalog: str | None = Query(None)) -> Json:
    identity = body.auth.identity
    if "password" not in identity.methods or identity.password is None:
        raise OpendrsError(errors.PARAMETER_INVALID, field="auth.identity.methods", hint=_PASSWORD_ONLY)
    user = identity.password.user
    if not user.id and not (user.name and user.domain and (user.domain.id or user.domain.name)):
        raise OpendrsError(errors.PARAMETER_INVALID, field="auth.identity.password.user", hint=_NO_USER)
    credentials = Credentials(
        password=user.password,
        user_id=user.id,
        user_name=user.name,
        domain_id=user.domain.id if user.domain else None,
        domain_name=user.domain.name if user.domain else None,
    )
    issued = context.services(request).iam.issue_token(credentials, _scope(body.auth.scope))
    token_body = _token_body(issued, _base_url(request), with_catalog=nocatalog is None)
    return Json({"token": token_body}, status_code=201, headers={"X-Subject-Token": issued.token})


@router.get("/v3/projects", summary="Projects of the caller's domain, optionally by name")
def list_projects(request: Request, name: str | None = Query(None)) -> Json:
    caller = context.identity(request)
    projects = context.services(request).iam.projects(caller.domain_id, name or None)
    base = _base_url(request)
    return Json(
        {
            "projects": [
                {
                    "id": project.id,
                    "name": project.name,
                    "domain_id": project.domain.id,
                    "parent_id": project.domain.id,
                    "is_domain": False,
                    "enabled": True,
                    "description": "",
                    "links": {"self": f"{base}/v3/projects/{project.id}"},
                }
                for project in projects
            ],
            "links": {"self": f"{base}/v3/projects", "next": None, "previous": None},
        }
    )


def _scope(scope: ScopeBody | None) -> Scope:
    if scope is None:
        return Scope()
    if scope.project is not None:
        project_domain = scope.project.domain
        return Scope(
            project_id=scope.project.id,
            project_name=scope.project.name,
            project_domain_id=project_domain.id if project_domain else None,
            project_domain_name=project_domain.name if project_domain else None,
        )
    if scope.domain is not None:
        return Scope(domain_id=scope.domain.id, domain_name=scope.domain.name)
    return Scope()


def _token_body(issued: IssuedToken, base: str, with_catalog: bool) -> dict[str, Any]:
    domain = {"id": issued.domain.id, "name": issued.domain.name}
    body: dict[str, Any] = {
        "methods": ["password"],
        "issued_at": times.iso_micros(issued.claims.issued_at),
        "expires_at": times.iso_micros(issued.claims.expires_at),
        "user": {
            "id": issued.user.id,
            "name": issued.user.name,
            "password_expires_at": "",
            "domain": {"id": issued.user.domain.id, "name": issued.user.domain.name},
        },
        "roles": [{"id": "0", "name": "te_admin"}],
    }
    if issued.project is None:
        body["domain"] = domain
        return body
    project = issued.project
    body["project"] = {"id": project.id, "name": project.name, "domain": domain}
    if with_catalog:
        body["catalog"] = _catalog(base, project.id, project.name)
    return body


def _catalog(base: str, project_id: str, region: str) -> list[dict[str, Any]]:
    """Service entries as keystoneauth and otcextensions look them up: by type, with the project in the URL."""

    def entry(service_type: str, url: str, region_id: str) -> dict[str, Any]:
        endpoint = {
            "id": f"{service_type}-public",
            "interface": "public",
            "region": region_id,
            "region_id": region_id,
            "url": url,
        }
        return {"type": service_type, "name": service_type, "id": service_type, "endpoints": [endpoint]}

    return [
        entry("identity", f"{base}/v3", "*"),
        entry("drs", f"{base}/v3/{project_id}", region),
        entry("drsv5", f"{base}/v5/{project_id}", region),
        entry("ecs", f"{base}/v1/{project_id}", region),
    ]


def _base_url(request: Request) -> str:
    configured = context.services(request).public_url
    if configured:
        return configured.rstrip("/")
    host = request.headers.get("host") or f"{request.url.hostname}:{request.url.port}"
    return f"{request.url.scheme}://{host}"
