"""Tests for opendrs.api.signing against AUTH.md 2.3-2.5 and the real huaweicloudsdkcore signer."""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar
from urllib.parse import quote

import pytest

from opendrs.api.signing import (
    EMPTY_BODY_SHA256,
    FailureReason,
    SignatureError,
    SignedAuthorization,
    canonical_query_string,
    canonical_request,
    canonical_uri,
    format_sdk_date,
    parse_authorization,
    sign_request,
    signature,
    string_to_sign,
    verify_request,
)

AK = "AKTESTEXAMPLE0000001"
SK = "SKtestexampleSECRET0000000000000000000001"
PROJECT = "0a1b2c3d4e5f60718293a4b5c6d7e8f9"
DATE = "20240101T120000Z"
NOW = datetime(2024, 1, 1, 12, 0, 0, tzinfo=UTC)
UA = "huaweicloud-usdk-python/3.0; python/3.11.7 impl/CPython"
SIGNED = ["content-type", "host", "user-agent", "x-project-id", "x-sdk-date"]


def base_headers() -> dict[str, str]:
    return {
        "content-type": "application/json",
        "host": "127.0.0.1:8080",
        "user-agent": UA,
        "x-project-id": PROJECT,
        "x-sdk-date": DATE,
    }


def lookup(access: str) -> str | None:
    return SK if access == AK else None


def signed_headers(method: str, path: str, query: str, headers: Mapping[str, str], body: bytes = b"") -> dict[str, str]:
    result = dict(headers)
    result["authorization"] = sign_request(AK, SK, method, path, query, headers, body)
    return result


# --------------------------------------------------------------------------------------------------------------
# 1. AUTH.md 2.4 worked examples
# --------------------------------------------------------------------------------------------------------------

EXAMPLE_A_CANONICAL = (
    "POST\n"
    f"/v3/{PROJECT}/jobs/batch-status/\n"
    "\n"
    "content-type:application/json\n"
    "host:127.0.0.1:8080\n"
    f"user-agent:{UA}\n"
    f"x-project-id:{PROJECT}\n"
    "x-sdk-date:20240101T120000Z\n"
    "\n"
    "content-type;host;user-agent;x-project-id;x-sdk-date\n"
    "41e85a77ab2421ac7a2a51e0d8aeb83608a3a8d6aed6d4bb2083dccdfebf7222"
)

EXAMPLE_B_CANONICAL = (
    "GET\n"
    f"/v5/{PROJECT}/batch-async-jobs/\n"
    "limit=10&offset=0&status=success&user_name=a%20b\n"
    "content-type:application/json\n"
    "host:127.0.0.1:8080\n"
    f"user-agent:{UA}\n"
    f"x-project-id:{PROJECT}\n"
    "x-sdk-date:20240101T120000Z\n"
    "\n"
    "content-type;host;user-agent;x-project-id;x-sdk-date\n"
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
)


def test_example_a_batch_list_job_status() -> None:
    path = f"/v3/{PROJECT}/jobs/batch-status"
    body = b'{"jobs": ["job-1"]}'
    canonical = canonical_request("POST", path, "", base_headers(), SIGNED, body)
    assert canonical == EXAMPLE_A_CANONICAL
    sts = string_to_sign(DATE, canonical)
    assert sts == (
        "SDK-HMAC-SHA256\n20240101T120000Z\n98caa49a79dcd466f4dffa263400561f6dc0eb2534f7896aaf19bf936d816135"
    )
    sig = signature(SK, sts)
    assert sig == "c3b01fb4dcae84cab2f3e7616ea966fead471820dabca7eaf9b06ced13509c91"
    header = sign_request(AK, SK, "POST", path, "", base_headers(), body)
    assert header == (
        "SDK-HMAC-SHA256 Access=AKTESTEXAMPLE0000001, "
        "SignedHeaders=content-type;host;user-agent;x-project-id;x-sdk-date, "
        "Signature=c3b01fb4dcae84cab2f3e7616ea966fead471820dabca7eaf9b06ced13509c91"
    )
    headers = {**base_headers(), "authorization": header}
    assert verify_request("POST", path, "", headers, body, lookup, NOW) == AK


def test_example_b_list_async_jobs() -> None:
    path = f"/v5/{PROJECT}/batch-async-jobs"
    query = "limit=10&offset=0&status=success&user_name=a%20b"
    canonical = canonical_request("GET", path, query, base_headers(), SIGNED, b"")
    assert canonical == EXAMPLE_B_CANONICAL
    sts = string_to_sign(DATE, canonical)
    digest = sts.split("\n")[2]
    assert digest.startswith("4de5f6f5") and digest.endswith("3f81")
    sig = signature(SK, sts)
    assert sig == "eb1c1ee30684839926c270ab9f9a78c77ae8cdab36c1889b8e28cabf7947f8a5"
    headers = signed_headers("GET", path, query, base_headers())
    assert headers["authorization"].endswith("Signature=" + sig)
    assert verify_request("GET", path, query, headers, b"", lookup, NOW) == AK


def test_example_c_ecs_show_job() -> None:
    path = f"/v1/{PROJECT}/jobs/ff808082-job"
    sig = signature(
        SK,
        string_to_sign(DATE, canonical_request("GET", path, "", base_headers(), SIGNED, b"")),
    )
    assert sig.startswith("e57f9418") and sig.endswith("233b")
    headers = signed_headers("GET", path, "", base_headers())
    assert verify_request("GET", path, "", headers, b"", lookup, NOW) == AK


# --------------------------------------------------------------------------------------------------------------
# 2. Awkward characters (AUTH.md 2.4 live example) and canonicalisation details
# --------------------------------------------------------------------------------------------------------------


def test_awkward_query_value() -> None:
    wire = "user_name=a%20b%2F%C3%A9~%2A%2B%26%3D"
    assert "user_name=" + quote("a b/é~*+&=", safe="~") == wire
    assert canonical_query_string(wire) == wire


def test_awkward_ecs_job_id_path() -> None:
    job_id = "weird id/é%~"
    assert quote(job_id, safe="") == "weird%20id%2F%C3%A9%25~"
    wire = f"/v1/{PROJECT}/jobs/weird%20id%2F%C3%A9%25~"
    assert canonical_uri(wire) == f"/v1/{PROJECT}/jobs/weird%20id/%C3%A9%25~/"
    headers = signed_headers("GET", wire, "", base_headers())
    assert verify_request("GET", wire, "", headers, b"", lookup, NOW) == AK


def test_canonical_uri_rules() -> None:
    assert canonical_uri("/v3/p/jobs") == "/v3/p/jobs/"
    assert canonical_uri("/v3/p/jobs/") == "/v3/p/jobs/"
    assert canonical_uri("/jobs/a%2Fb") == "/jobs/a/b/"
    assert canonical_uri("/a//./../b") == "/a//./../b/"  # not normalised
    assert canonical_uri("/a%7eb~c") == "/a~b~c/"
    assert canonical_uri("/x+y") == "/x%2By/"
    assert canonical_uri("") == "/"


def test_canonical_query_rules() -> None:
    assert canonical_query_string("") == ""
    assert canonical_query_string("b=2&a=1") == "a=1&b=2"
    assert canonical_query_string("a=x+y") == "a=x%2By"  # unquote, not unquote_plus
    assert canonical_query_string("flag") == "flag="
    assert canonical_query_string("a=1=2") == "a=1%3D2"  # split on the first '='
    assert canonical_query_string("k=10&k=9") == "k=10&k=9"
    assert canonical_query_string("k=9&k=10") == "k=10&k=9"
    assert canonical_query_string("k=9&k=10", key_only_sort=True) == "k=9&k=10"
    # the SDK sorts decoded values: '~' (0x7e) sorts before 'é' although '%C3' sorts before '~'
    assert canonical_query_string("k=%C3%A9&k=~") == "k=~&k=%C3%A9"


def test_canonical_headers_trimmed_not_collapsed() -> None:
    headers = {**base_headers(), "user-agent": "  a   b  "}
    canonical = canonical_request("GET", "/x", "", headers, SIGNED, b"")
    assert "\nuser-agent:a   b\n" in canonical


def test_payload_hash_rules() -> None:
    headers = {**base_headers(), "x-sdk-content-sha256": "UNSIGNED-PAYLOAD"}
    names = sorted(headers)
    assert canonical_request("PUT", "/x", "", headers, names, b"").endswith("\n" + EMPTY_BODY_SHA256)
    assert canonical_request("PUT", "/x", "", headers, names, b"data").endswith("\nUNSIGNED-PAYLOAD")
    assert canonical_request("PUT", "/x", "", base_headers(), SIGNED, b"data").endswith(
        "\n3a6eb0790f39ac87c94f3856b2dd2c5d110e6811602261a9a923d3bb23adc8b7"
    )


def test_parse_authorization() -> None:
    parsed = parse_authorization("SDK-HMAC-SHA256 Access=AK1, SignedHeaders=host;x-sdk-date, Signature=00ff")
    assert parsed == SignedAuthorization("AK1", ("host", "x-sdk-date"), "00ff")
    assert parse_authorization("SDK-HMAC-SHA256   Access=AK1 ,SignedHeaders=host,Signature=ab") is not None
    for bad in (
        "",
        "SDK-HMAC-SM3 Access=AK1, SignedHeaders=host, Signature=00",
        "SDK-HMAC-SHA256 Access=AK1, SignedHeaders=host, Signature=00FF",
        "SDK-HMAC-SHA256 Access=AK1, Signature=00, SignedHeaders=host",
        "SDK-HMAC-SHA256 Access=AK1, SignedHeaders=host, Signature=00\nX: y",
        "Bearer token",
    ):
        assert parse_authorization(bad) is None, bad


def test_format_sdk_date() -> None:
    assert format_sdk_date(NOW) == DATE
    assert format_sdk_date(datetime(2024, 1, 1, 12, 0, 0)) == DATE
    assert format_sdk_date(datetime(2024, 1, 1, 13, 0, 0, tzinfo=timezone(timedelta(hours=1)))) == DATE


# --------------------------------------------------------------------------------------------------------------
# 3. Cross-check against the real SDK signer (huaweicloudsdkcore 3.1.219)
# --------------------------------------------------------------------------------------------------------------

sdkcore = pytest.importorskip("huaweicloudsdkcore")


def sdk_sign(
    method: str,
    resource_path: str,
    query_params: list[tuple[str, Any]],
    headers: dict[str, str],
    body: str | bytes | None = None,
) -> tuple[str, str, dict[str, str], bytes]:
    """Sign with the SDK's Signer; return what goes on the wire: (path, query, lower-case headers, body)."""
    from huaweicloudsdkcore.auth.credentials import BasicCredentials
    from huaweicloudsdkcore.sdk_request import SdkRequest
    from huaweicloudsdkcore.signer.signer import Signer

    request = SdkRequest(
        method=method,
        schema="http",
        host="127.0.0.1:8080",
        resource_path=resource_path,
        query_params=query_params,
        header_params=dict(headers),
        body=body,
    )
    signed = Signer(BasicCredentials(AK, SK, PROJECT)).sign(request)
    path, _, query = signed.uri.partition("?")
    # The SDK leaves header values as UTF-8 bytes decoded as ISO-8859-1, which is also how servers see them.
    wire_headers = {name.lower(): str(value) for name, value in signed.header_params.items()}
    wire_body = signed.body if isinstance(signed.body, bytes) else (signed.body or "").encode()
    return path, query, wire_headers, wire_body


def sdk_now(headers: Mapping[str, str]) -> datetime:
    return datetime.strptime(headers["x-sdk-date"], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)


def sdk_headers(**extra: str) -> dict[str, str]:
    headers = {
        "Content-Type": "application/json",
        "User-Agent": UA,
        "X-Project-Id": PROJECT,
    }
    headers.update(extra)
    return headers


def test_sdk_worked_example_a_matches() -> None:
    path, query, headers, body = sdk_sign(
        "POST",
        f"/v3/{PROJECT}/jobs/batch-status",
        [],
        sdk_headers(**{"X-Sdk-Date": DATE}),
        '{"jobs": ["job-1"]}',
    )
    assert headers["authorization"].endswith(
        "Signature=c3b01fb4dcae84cab2f3e7616ea966fead471820dabca7eaf9b06ced13509c91"
    )
    assert verify_request("POST", path, query, headers, body, lookup, NOW) == AK


def test_sdk_post_json_body_current_time() -> None:
    body = json.dumps({"jobs": ["j1", "j2"], "page_req": {"cur_page": 1, "per_page": 10}})
    path, query, headers, raw = sdk_sign("POST", f"/v3/{PROJECT}/jobs/batch-status", [], sdk_headers(), body)
    assert "x-sdk-content-sha256" not in headers
    # the SDK stamps the current UTC time itself
    now = datetime.now(UTC)
    assert abs(now - sdk_now(headers)) < timedelta(minutes=1)
    assert verify_request("POST", path, query, headers, raw, lookup, now) == AK


def test_sdk_get_query_with_spaces_unicode_and_reserved() -> None:
    params: list[tuple[str, Any]] = [
        ("user_name", "a b/é~*+&="),
        ("status", "success"),
        ("limit", 10),
        ("offset", 0),
        ("domain_name", "домен 名"),
        ("verbose", True),
        ("empty", ""),
    ]
    path, query, headers, body = sdk_sign("GET", f"/v5/{PROJECT}/batch-async-jobs", params, sdk_headers())
    assert "user_name=a%20b%2F%C3%A9~%2A%2B%26%3D" in query.split("&")
    assert "verbose=true" in query.split("&")
    assert verify_request("GET", path, query, headers, body, lookup, sdk_now(headers)) == AK


def test_sdk_path_with_percent_encoded_characters() -> None:
    job_id = "weird id/é%~"
    resource_path = f"/v1/{PROJECT}/jobs/" + quote(job_id, safe="")  # what Client._parse_path_params does
    path, query, headers, body = sdk_sign("GET", resource_path, [], sdk_headers())
    assert path == f"/v1/{PROJECT}/jobs/weird%20id%2F%C3%A9%25~"
    assert verify_request("GET", path, query, headers, body, lookup, sdk_now(headers)) == AK


def test_sdk_numeric_list_query_needs_key_only_sort() -> None:
    # The SDK sorts the list numerically (9 < 10); a full string sort would put "10" first.
    path, query, headers, body = sdk_sign("GET", "/v3/p/jobs", [("limit", [10, 9]), ("a", "x")], sdk_headers())
    assert query == "a=x&limit=9&limit=10"
    assert canonical_query_string(query) != query
    assert verify_request("GET", path, query, headers, body, lookup, sdk_now(headers)) == AK


def test_sdk_non_ascii_header_value_and_underscore_header() -> None:
    extra = {"X-Language": "en-us", "X-Note": "  café — 名  ", "X_Unsigned": "ignored"}
    path, query, headers, body = sdk_sign("GET", "/v3/p/jobs", [], sdk_headers(**extra))
    auth = parse_authorization(headers["authorization"])
    assert auth is not None
    assert "x_unsigned" not in auth.signed_headers and "x-note" in auth.signed_headers
    assert headers["x-note"] != "café — 名"  # latin-1 view of the UTF-8 bytes, as a server receives it
    assert verify_request("GET", path, query, headers, body, lookup, sdk_now(headers)) == AK
    # a server/framework that already decoded the header as UTF-8 is accepted too
    utf8 = {**headers, "x-note": "café — 名"}
    assert verify_request("GET", path, query, utf8, body, lookup, sdk_now(headers)) == AK


def test_sdk_unsigned_payload_octet_stream() -> None:
    headers_in = sdk_headers(**{"Content-Type": "application/octet-stream"})
    path, query, headers, body = sdk_sign("PUT", "/v3/p/upload", [], headers_in, b"\x00\x01binary")
    assert headers["x-sdk-content-sha256"] == "UNSIGNED-PAYLOAD"
    assert verify_request("PUT", path, query, headers, body, lookup, sdk_now(headers)) == AK


def test_sdk_signed_requests_match_sign_request() -> None:
    path, query, headers, body = sdk_sign(
        "POST",
        "/v3/p/jobs",
        [("b", "2"), ("a", "é")],
        sdk_headers(**{"X-Sdk-Date": DATE}),
        '{"x": 1}',
    )
    mine = sign_request(
        AK,
        SK,
        "POST",
        path,
        query,
        {k: v for k, v in headers.items() if k != "authorization"},
        body,
    )
    assert mine == headers["authorization"]


def test_sdk_tampered_requests_rejected() -> None:
    path, query, headers, body = sdk_sign(
        "POST",
        f"/v3/{PROJECT}/jobs/batch-status",
        [("a", "1")],
        sdk_headers(),
        '{"jobs": ["j1"]}',
    )
    now = sdk_now(headers)
    cases = [
        ("POST", path, query, headers, b'{"jobs": ["j2"]}'),
        ("POST", path + "x", query, headers, body),
        ("POST", path, "a=2", headers, body),
        ("POST", path, query, {**headers, "x-project-id": "other"}, body),
        ("PUT", path, query, headers, body),
    ]
    for method, p, q, h, b in cases:
        with pytest.raises(SignatureError) as info:
            verify_request(method, p, q, h, b, lookup, now)
        assert info.value.reason is FailureReason.BAD_SIGNATURE


# --------------------------------------------------------------------------------------------------------------
# 3b. End to end: the real DRS client -> requests/urllib3 -> http.server -> verify_request
# --------------------------------------------------------------------------------------------------------------


class _Handler(BaseHTTPRequestHandler):
    results: ClassVar[list[str]] = []

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _handle(self) -> None:
        raw_path, _, raw_query = self.path.partition("?")
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        headers = {name.lower(): value for name, value in self.headers.items()}
        payload: dict[str, Any]
        try:
            access = verify_request(
                self.command,
                raw_path,
                raw_query,
                headers,
                body,
                lookup,
                datetime.now(UTC),
            )
        except SignatureError as exc:
            self.results.append(exc.reason.name)
            payload = {"error_code": "APIGW.0301", "error_msg": str(exc)}
            status = 401
        else:
            self.results.append("OK:" + access)
            if raw_path.endswith("batch-status"):
                payload = {"results": [], "count": 0}
            else:
                payload = {"total_count": 0, "jobs": []}
            status = 200
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json;charset=UTF-8")
        self.send_header("X-Request-Id", "req-1")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = _handle  # noqa: N815 - http.server's naming
    do_POST = _handle  # noqa: N815


@pytest.fixture()
def server() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    _Handler.results = []
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_end_to_end_real_drs_client(server: str) -> None:
    drs = pytest.importorskip("huaweicloudsdkdrs")
    del drs
    import warnings

    from huaweicloudsdkcore.auth.credentials import BasicCredentials
    from huaweicloudsdkcore.exceptions.exceptions import ClientRequestException
    from huaweicloudsdkdrs.v3 import BatchListJobStatusRequest, BatchQueryJobReqPage
    from huaweicloudsdkdrs.v3 import DrsClient as DrsV3Client
    from huaweicloudsdkdrs.v5 import DrsClient as DrsV5Client
    from huaweicloudsdkdrs.v5 import ListAsyncJobsRequest

    creds = BasicCredentials(AK, SK, PROJECT)
    v5 = DrsV5Client.new_builder().with_credentials(creds).with_endpoints([server]).build()
    v5.list_async_jobs(ListAsyncJobsRequest(user_name="a b/é~*+&=", status="success", limit=10, offset=0))
    v3 = DrsV3Client.new_builder().with_credentials(creds).with_endpoints([server]).build()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        v3.batch_list_job_status(BatchListJobStatusRequest(body=BatchQueryJobReqPage(jobs=["j1", "j2"])))

    bad = BasicCredentials(AK, "wrong-secret", PROJECT)
    client = DrsV5Client.new_builder().with_credentials(bad).with_endpoints([server]).build()
    with pytest.raises(ClientRequestException) as info:
        client.list_async_jobs(ListAsyncJobsRequest(limit=1))
    assert info.value.status_code == 401
    assert info.value.error_code == "APIGW.0301"
    assert _Handler.results == ["OK:" + AK, "OK:" + AK, "BAD_SIGNATURE"]


# --------------------------------------------------------------------------------------------------------------
# 4. Failure reasons
# --------------------------------------------------------------------------------------------------------------

PATH = f"/v3/{PROJECT}/jobs/batch-status"
BODY = b'{"jobs": ["job-1"]}'


def good() -> dict[str, str]:
    return signed_headers("POST", PATH, "", base_headers(), BODY)


def reason_of(
    headers: Mapping[str, str],
    *,
    method: str = "POST",
    path: str = PATH,
    query: str = "",
    body: bytes = BODY,
    now: datetime = NOW,
    max_skew_seconds: float = 900.0,
) -> FailureReason:
    with pytest.raises(SignatureError) as info:
        verify_request(
            method,
            path,
            query,
            headers,
            body,
            lookup,
            now,
            max_skew_seconds=max_skew_seconds,
        )
    exc = info.value
    assert SK not in str(exc) and SK not in repr(exc) and all(SK not in str(a) for a in exc.args)
    assert str(exc).startswith(exc.reason.description)
    return exc.reason


def test_good_request_accepted() -> None:
    assert verify_request("POST", PATH, "", good(), BODY, lookup, NOW) == AK
    # header names are normalised defensively; lower-case method is upper-cased
    mixed = {k.title(): v for k, v in good().items()}
    assert verify_request("post", PATH, "", mixed, BODY, lookup, NOW) == AK


@pytest.mark.parametrize(
    "value",
    [
        "",
        "Basic dXNlcjpwYXNz",
        "SDK-HMAC-SM3 Access=AKTESTEXAMPLE0000001, SignedHeaders=host;x-sdk-date, Signature=00",
        "SDK-HMAC-SHA256 Access=AKTESTEXAMPLE0000001, SignedHeaders=host;x-sdk-date",
        "SDK-HMAC-SHA256 Access=, SignedHeaders=host;x-sdk-date, Signature=00",
        "SDK-HMAC-SHA256 Access=AKTESTEXAMPLE0000001, SignedHeaders=host;x-sdk-date, Signature=XYZ",
    ],
)
def test_malformed_authorization(value: str) -> None:
    assert reason_of({**good(), "authorization": value}) is FailureReason.MALFORMED_AUTHORIZATION


def test_missing_authorization() -> None:
    headers = good()
    del headers["authorization"]
    assert reason_of(headers) is FailureReason.MALFORMED_AUTHORIZATION


def _with_signed_list(names: list[str]) -> dict[str, str]:
    headers = base_headers()
    sig = signature(
        SK,
        string_to_sign(DATE, canonical_request("POST", PATH, "", headers, names, BODY)),
    )
    headers["authorization"] = f"SDK-HMAC-SHA256 Access={AK}, SignedHeaders={';'.join(names)}, Signature={sig}"
    return headers


def test_minimal_signed_list_is_enough() -> None:
    headers = _with_signed_list(["host", "x-sdk-date"])
    assert verify_request("POST", PATH, "", headers, BODY, lookup, NOW) == AK


def test_missing_host_in_signed_headers() -> None:
    headers = _with_signed_list(["content-type", "x-sdk-date"])
    assert reason_of(headers) is FailureReason.MISSING_SIGNED_HEADER


def test_missing_sdk_date_in_signed_headers() -> None:
    headers = _with_signed_list(["content-type", "host"])
    assert reason_of(headers) is FailureReason.MISSING_SIGNED_HEADER


def test_listed_header_absent() -> None:
    headers = good()
    del headers["user-agent"]
    assert reason_of(headers) is FailureReason.MISSING_SIGNED_HEADER
    headers = good()
    del headers["x-sdk-date"]
    assert reason_of(headers) is FailureReason.MISSING_SIGNED_HEADER


def test_non_lowercase_signed_header_name() -> None:
    headers = good()
    headers["authorization"] = headers["authorization"].replace(
        "SignedHeaders=content-type", "SignedHeaders=Content-Type"
    )
    assert reason_of(headers) is FailureReason.MISSING_SIGNED_HEADER


@pytest.mark.parametrize(
    "value",
    [
        "2024-01-01T12:00:00Z",
        "20240101T120000",
        "20241301T120000Z",
        "20240101T250000Z",
        "",
    ],
)
def test_bad_date(value: str) -> None:
    headers = signed_headers("POST", PATH, "", {**base_headers(), "x-sdk-date": value}, BODY)
    assert reason_of(headers) is FailureReason.BAD_DATE


def test_stale_date_past_and_future() -> None:
    assert reason_of(good(), now=NOW + timedelta(minutes=16)) is FailureReason.STALE_DATE
    assert reason_of(good(), now=NOW - timedelta(minutes=16)) is FailureReason.STALE_DATE
    # inside the window (inclusive at exactly 15 min), naive "now" is UTC
    for delta in (
        timedelta(minutes=14),
        timedelta(minutes=-14),
        timedelta(seconds=900),
        timedelta(seconds=-900),
    ):
        assert verify_request("POST", PATH, "", good(), BODY, lookup, NOW + delta) == AK
    assert verify_request("POST", PATH, "", good(), BODY, lookup, datetime(2024, 1, 1, 12, 5)) == AK
    # configurable window
    assert reason_of(good(), now=NOW + timedelta(seconds=61), max_skew_seconds=60) is FailureReason.STALE_DATE


def test_unknown_key() -> None:
    headers = good()
    headers["authorization"] = headers["authorization"].replace(AK, "AKUNKNOWN")
    assert reason_of(headers) is FailureReason.UNKNOWN_KEY


def test_tampering_gives_bad_signature() -> None:
    assert reason_of(good(), body=b'{"jobs": ["job-2"]}') is FailureReason.BAD_SIGNATURE
    assert reason_of(good(), body=b"") is FailureReason.BAD_SIGNATURE
    assert reason_of(good(), path=PATH.replace("batch-status", "batch-status2")) is FailureReason.BAD_SIGNATURE
    # a trailing '/' and an encoded slash give the same canonical URI: inherent to the scheme, accepted
    assert verify_request("POST", PATH + "/", "", good(), BODY, lookup, NOW) == AK
    assert verify_request("POST", PATH.replace("jobs/", "jobs%2F"), "", good(), BODY, lookup, NOW) == AK
    assert reason_of(good(), query="a=1") is FailureReason.BAD_SIGNATURE
    assert reason_of(good(), method="PUT") is FailureReason.BAD_SIGNATURE
    assert reason_of({**good(), "host": "evil:8080"}) is FailureReason.BAD_SIGNATURE
    assert reason_of({**good(), "user-agent": UA + "x"}) is FailureReason.BAD_SIGNATURE
    headers = good()
    headers["authorization"] = headers["authorization"][:-1] + ("0" if headers["authorization"][-1] != "0" else "1")
    assert reason_of(headers) is FailureReason.BAD_SIGNATURE


def test_query_tampering_and_order() -> None:
    query = "limit=10&offset=0&status=success&user_name=a%20b"
    headers = signed_headers("GET", "/v5/p/batch-async-jobs", query, base_headers())
    shuffled = "user_name=a%20b&status=success&limit=10&offset=0"
    assert verify_request("GET", "/v5/p/batch-async-jobs", shuffled, headers, b"", lookup, NOW) == AK
    for bad in (
        "limit=10&offset=0&status=success&user_name=a+b",
        "limit=11&offset=0&status=success&user_name=a%20b",
        query + "&",
        query + "&x=1",
        "limit=10&offset=0&status=success",
    ):
        reason = reason_of(headers, method="GET", path="/v5/p/batch-async-jobs", query=bad, body=b"")
        assert reason is FailureReason.BAD_SIGNATURE, bad


def test_unsigned_payload_and_declared_digest() -> None:
    headers_in = {**base_headers(), "x-sdk-content-sha256": "UNSIGNED-PAYLOAD"}
    headers = signed_headers("PUT", PATH, "", headers_in, b"abc")
    assert verify_request("PUT", PATH, "", headers, b"anything", lookup, NOW) == AK  # body not covered by design
    # a declared digest must match the body
    digest = hashlib.sha256(b"abc").hexdigest()
    headers = signed_headers("PUT", PATH, "", {**base_headers(), "x-sdk-content-sha256": digest}, b"abc")
    assert verify_request("PUT", PATH, "", headers, b"abc", lookup, NOW) == AK
    assert reason_of(headers, method="PUT", body=b"abd") is FailureReason.BAD_SIGNATURE
    # an unsigned x-sdk-content-sha256 header cannot replace the body hash
    headers = {**good(), "x-sdk-content-sha256": "UNSIGNED-PAYLOAD"}
    assert reason_of(headers, body=b"other") is FailureReason.BAD_SIGNATURE
    assert verify_request("POST", PATH, "", headers, BODY, lookup, NOW) == AK


def test_messages_never_leak_secret_or_expected_signature() -> None:
    expected = signature(
        SK,
        string_to_sign(DATE, canonical_request("PUT", PATH, "", base_headers(), SIGNED, BODY)),
    )
    with pytest.raises(SignatureError) as info:
        verify_request("PUT", PATH, "", good(), BODY, lookup, NOW)
    text = f"{info.value} {info.value!r} {info.value.detail} {info.value.args}"
    assert SK not in text and expected not in text
    for reason in FailureReason:
        assert reason.description and SK not in reason.description
    assert len({reason.description for reason in FailureReason}) == len(FailureReason)


def test_surrogates_do_not_crash() -> None:
    headers = {**good(), "user-agent": "bad\udcff"}
    assert reason_of(headers) is FailureReason.BAD_SIGNATURE
    assert reason_of(good(), path="/x/\ud800") is FailureReason.BAD_SIGNATURE


def test_sign_request_requires_host_and_date() -> None:
    headers = base_headers()
    del headers["host"]
    with pytest.raises(ValueError):
        sign_request(AK, SK, "GET", "/x", "", headers)
    with pytest.raises(ValueError):
        sign_request(AK, SK, "GET", "/x", "", {**base_headers(), "Host": "dup"})
