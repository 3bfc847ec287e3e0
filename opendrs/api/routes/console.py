"""The web console: static files (HTML, CSS, JS modules) shipped with the package, served at /console.

The files need no credentials; every API call the page makes carries the user's X-Auth-Token.
"""

from __future__ import annotations

from importlib import resources

from fastapi import APIRouter
from starlette.responses import RedirectResponse, Response

from opendrs.domain import errors
from opendrs.domain.errors import OpendrsError

router = APIRouter(include_in_schema=False)

_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".svg": "image/svg+xml",
}
# Only what the page itself loads: scripts from here, API calls to this origin, no inline script.
_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; style-src 'self'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-cache",
}
# The files are read once: a name not in this table is a 404, so no path ever leaves the folder.
_FILES = {
    entry.name: entry.read_bytes()
    for entry in (resources.files("opendrs.api") / "console").iterdir()
    if entry.is_file() and entry.name.endswith(tuple(_TYPES))
}


@router.get("/console")
def console_root() -> RedirectResponse:
    return RedirectResponse("/console/", status_code=308)


@router.get("/console/")
def console_index() -> Response:
    return _file("index.html")


@router.get("/console/{name}")
def console_file(name: str) -> Response:
    return _file(name)


def _file(name: str) -> Response:
    content = _FILES.get(name)
    if content is None:
        raise OpendrsError(errors.NOT_FOUND, path=f"/console/{name}")
    media_type = _TYPES[name[name.rfind(".") :]]
    return Response(content, media_type=media_type, headers=_HEADERS)
