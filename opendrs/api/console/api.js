// The DRS API as the console uses it: a project-scoped token kept in sessionStorage, sent as X-Auth-Token.

const SESSION_KEY = "opendrs.session";

export class ApiError extends Error {
  constructor(status, code, message) {
    super(code ? `${code}: ${message}` : message);
    this.status = status;
    this.code = code;
  }
}

export function session() {
  const saved = sessionStorage.getItem(SESSION_KEY);
  return saved ? JSON.parse(saved) : null;
}

export function signOut() {
  sessionStorage.removeItem(SESSION_KEY);
}

export async function signIn({ domain, user, password, project }) {
  const body = {
    auth: {
      identity: { methods: ["password"], password: { user: { name: user, password, domain: { name: domain } } } },
      scope: { project: { name: project, domain: { name: domain } } },
    },
  };
  const response = await fetch("/v3/auth/tokens", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body),
  });
  const answer = await response.json().catch(() => ({}));
  if (response.status !== 201) {
    throw new ApiError(response.status, answer.error_code, answer.error_msg || `sign-in failed (${response.status})`);
  }
  const saved = {
    token: response.headers.get("X-Subject-Token"),
    projectId: answer.token.project.id,
    project,
    user,
    domain,
    expiresAt: answer.token.expires_at,
  };
  sessionStorage.setItem(SESSION_KEY, JSON.stringify(saved));
  return saved;
}

// A call to /v3/{project_id}/jobs/<path> (or another path given whole); the parsed JSON answer.
export async function call(method, path, body) {
  const current = session();
  if (!current) throw new ApiError(401, "", "not signed in");
  const url = path.startsWith("/") ? path : `/v3/${current.projectId}/jobs/${path}`;
  const init = { method, headers: { "X-Auth-Token": current.token } };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const response = await fetch(url, init);
  const answer = await response.json().catch(() => ({}));
  if (response.status === 401) {
    signOut();
    window.dispatchEvent(new Event("opendrs:signed-out"));
  }
  if (response.status >= 400) {
    throw new ApiError(response.status, answer.error_code, answer.error_msg || `${method} ${url}: ${response.status}`);
  }
  return answer;
}

// The one result of a batch call about one job; its per-job error becomes an exception.
export async function one(method, path, body) {
  const answer = await call(method, path, body);
  const [result] = answer.results;
  if (result.status === "failed" || result.error_code) {
    throw new ApiError(200, result.error_code, result.error_msg || result.error_message || "failed");
  }
  return result;
}
