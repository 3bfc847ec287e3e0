// The console: sign-in, the task list, a new task, and one task's page. Hash routes: #/tasks, #/new, #/task/<id>.
import { ApiError, call, one, session, signIn, signOut } from "./api.js";
import { chart } from "./chart.js";
import { bar, h, lagText, statusBadge, when } from "./dom.js";

const REFRESH_MS = 3000;
const main = document.getElementById("main");
let refresher = null; // the current view's refresh timer
let view = 0; // bumped on every navigation: a late answer for an older view is dropped

function notice(text) {
  const box = document.getElementById("notice");
  box.textContent = text;
  box.hidden = false;
  clearTimeout(notice.timer);
  notice.timer = setTimeout(() => { box.hidden = true; }, 4000);
}

function describe(error) {
  return error instanceof ApiError ? error.message : `unexpected: ${error}`;
}

function show(...children) {
  main.replaceChildren(...children);
}

// Runs `refresh` now and every REFRESH_MS while the view is shown.
function every(refresh) {
  const mine = view;
  const tick = async () => {
    if (mine !== view) return;
    try {
      await refresh(() => mine === view);
    } catch (error) {
      if (mine === view) notice(describe(error));
    }
  };
  tick();
  refresher = setInterval(tick, REFRESH_MS);
}

function route() {
  clearInterval(refresher);
  view += 1;
  const current = session();
  document.getElementById("nav").hidden = !current;
  if (!current) return signInView();
  document.getElementById("who").textContent = `${current.user} @ ${current.domain} / ${current.project}`;
  const hash = location.hash || "#/tasks";
  if (hash === "#/new") return newTaskView();
  if (hash.startsWith("#/task/")) return taskView(decodeURIComponent(hash.slice(7)));
  return listView();
}

// --- Sign-in ---------------------------------------------------------------------------------

function signInView() {
  const error = h("div", { class: "error", id: "signin-error" });
  const field = (name, label, type = "text") =>
    h("label", {}, label, h("input", { name, id: `signin-${name}`, type, required: true, autocomplete: "on" }));
  const form = h(
    "form",
    { id: "signin" },
    field("domain", "Domain"),
    field("user", "User"),
    field("password", "Password", "password"),
    field("project", "Project (region)"),
    h("button", { type: "submit" }, "Sign in"),
    error,
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const values = Object.fromEntries(new FormData(form));
    try {
      await signIn(values);
      location.hash = "#/tasks";
      route();
    } catch (failure) {
      error.textContent = describe(failure);
    }
  });
  show(h("div", { class: "card signin" }, h("h1", {}, "Sign in to opendrs"), form));
}

// --- Task list -------------------------------------------------------------------------------

function listView() {
  const body = h("tbody", { id: "task-rows" });
  const updated = h("span", { class: "muted", id: "list-updated" });
  show(
    h(
      "div",
      { class: "card" },
      h("div", { class: "actions" }, h("h1", {}, "Tasks"), updated, h("a", { href: "#/new" }, h("button", { type: "button" }, "New task"))),
      h(
        "table",
        { id: "tasks" },
        h("thead", {}, h("tr", {}, ["Name", "Type", "Status", "Progress", "Lag", "Rows/s", "Created"].map((title) => h("th", {}, title)))),
        body,
      ),
    ),
  );
  every(async (current) => {
    const listed = await call("POST", `/v3/${session().projectId}/jobs`, { db_use_type: "migration", cur_page: 1, per_page: 100 });
    const ids = listed.jobs.map((job) => job.id);
    let statuses = {};
    let progress = {};
    if (ids.length) {
      const [status, measured] = await Promise.all([
        call("POST", "batch-status", { jobs: ids }),
        call("POST", "batch-progress", { jobs: ids }),
      ]);
      statuses = Object.fromEntries(status.results.map((result) => [result.id, result]));
      progress = Object.fromEntries(measured.results.map((result) => [result.job_id, result]));
    }
    if (!current()) return;
    body.replaceChildren(
      ...listed.jobs.map((job) => {
        const status = statuses[job.id]?.status ?? job.status;
        const measured = progress[job.id] ?? {};
        const rate = Number(measured.apply_rows_rate);
        return h(
          "tr",
          { "data-job-id": job.id, "data-status": status },
          h("td", {}, h("a", { href: `#/task/${encodeURIComponent(job.id)}` }, job.name), h("div", { class: "muted" }, job.id)),
          h("td", {}, job.task_type),
          h("td", {}, statusBadge(status)),
          h("td", {}, bar(measured.progress ?? 0)),
          h("td", { class: "num lag" }, lagText(measured.incre_trans_delay_millis >= 0 ? measured.incre_trans_delay_millis / 1000 : null)),
          h("td", { class: "num" }, rate >= 0 ? rate : "—"),
          h("td", {}, job.create_time),
        );
      }),
    );
    if (!listed.jobs.length) body.append(h("tr", {}, h("td", { colspan: 7, class: "muted" }, "No tasks yet.")));
    updated.textContent = `updated ${new Date().toLocaleTimeString()}`;
  });
}

// --- New task --------------------------------------------------------------------------------

function endpointFields(role, legend) {
  const input = (name, label, attributes = {}) =>
    h("label", {}, label, h("input", { name: `${role}_${name}`, id: `${role}-${name}`, ...attributes }));
  return h(
    "fieldset",
    {},
    h("legend", {}, legend),
    input("ip", "Host", { required: true, value: "127.0.0.1" }),
    input("port", "Port", { required: true, type: "number", value: "3306" }),
    input("user", "User", { required: true }),
    input("password", "Password", { type: "password", autocomplete: "off" }),
  );
}

function endpointOf(values, role) {
  return {
    db_type: "mysql",
    ip: values[`${role}_ip`],
    db_port: Number(values[`${role}_port`]),
    db_user: values[`${role}_user`],
    db_password: values[`${role}_password`],
  };
}

async function waitFor(check, what, seconds = 60) {
  const end = Date.now() + seconds * 1000;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > end) throw new ApiError(0, "", `timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

function newTaskView() {
  const log = h("ul", { class: "checks", id: "steps" });
  const step = (text, ok = true) => log.append(h("li", { class: ok ? "ok" : "bad" }, text));
  let jobId = null;
  const form = h(
    "form",
    { class: "grid", id: "new-task" },
    h("label", {}, "Name", h("input", { name: "name", id: "task-name", required: true, pattern: "[A-Za-z][A-Za-z0-9_\\-]{3,49}", title: "4 to 50 letters, digits, _ or -, starting with a letter" })),
    h(
      "label",
      {},
      "Type",
      h(
        "select",
        { name: "task_type", id: "task-type" },
        h("option", { value: "FULL_INCR_TRANS" }, "Full + incremental"),
        h("option", { value: "FULL_TRANS" }, "Full only"),
        h("option", { value: "INCR_TRANS" }, "Incremental only"),
      ),
    ),
    endpointFields("source", "Source (MySQL / MariaDB)"),
    endpointFields("target", "Target (MySQL / MariaDB)"),
    h("label", { class: "wide" }, "Databases to migrate (comma-separated)", h("input", { name: "databases", id: "task-databases", required: true })),
  );
  const create = h("button", { type: "button", id: "create" }, "Create task");
  const test = h("button", { type: "button", id: "test-connections", class: "secondary", disabled: true }, "Test connections");
  const check = h("button", { type: "button", id: "precheck", class: "secondary", disabled: true }, "Run precheck");
  const start = h("button", { type: "button", id: "start", disabled: true }, "Start");
  const values = () => Object.fromEntries(new FormData(form));
  const busy = async (button, work) => {
    button.disabled = true;
    try {
      await work();
    } catch (error) {
      step(describe(error), false);
    } finally {
      button.disabled = false;
    }
  };

  create.addEventListener("click", () => {
    if (!form.reportValidity()) return;
    busy(create, async () => {
      const v = values();
      const created = await one("POST", "batch-creation", {
        jobs: [{
          name: v.name, db_use_type: "migration", engine_type: "mysql", job_direction: "up", net_type: "eip",
          node_type: "high", task_type: v.task_type, source_endpoint: { db_type: "mysql" }, target_endpoint: { db_type: "mysql" },
        }],
      });
      jobId = created.id;
      step(`Task ${jobId} created`);
      await waitFor(async () => (await one("POST", "batch-status", { jobs: [jobId] })).status === "CONFIGURATION", "the task to be ready");
      await one("PUT", "batch-modification", {
        jobs: [{ job_id: jobId, source_endpoint: endpointOf(v, "source"), target_endpoint: endpointOf(v, "target") }],
      });
      const databases = v.databases.split(",").map((name) => name.trim()).filter(Boolean);
      await one("PUT", "batch-select-objects", {
        jobs: [{ job_id: jobId, selected: true, job: databases.map((db) => ({ id: db, object_type: "database", object_name: db, select: "true" })) }],
      });
      step(`Endpoints saved; databases selected: ${databases.join(", ")}`);
      create.hidden = true;
      form.querySelector("#task-name").disabled = true;
      test.disabled = false;
      check.disabled = false;
    });
  });

  test.addEventListener("click", () => busy(test, async () => {
    const v = values();
    const answer = await call("POST", "batch-connection", {
      jobs: ["source", "target"].map((role) => ({ id: jobId, end_point_type: role === "source" ? "so" : "ta", ...endpointOf(v, role) })),
    });
    answer.results.forEach((result, index) => {
      const side = index === 0 ? "Source" : "Target";
      step(result.success ? `${side} connection: OK` : `${side} connection failed: ${result.error_msg}`, result.success);
    });
  }));

  check.addEventListener("click", () => busy(check, async () => {
    await one("POST", "batch-precheck", { jobs: [{ job_id: jobId, precheck_mode: "forStartJob" }] });
    const result = await waitFor(async () => {
      const answer = await call("POST", "batch-precheck-result", { jobs: [jobId] });
      const found = answer.results[0];
      return found.process === "100%" ? found : null;
    }, "the precheck");
    const failed = result.precheck_result.filter((item) => item.result === "FAILED");
    step(result.result ? `Precheck passed (${result.precheck_result.length} checks)` : "Precheck failed", result.result);
    failed.forEach((item) => step(`${item.item}: ${item.failed_reason}`, false));
    start.disabled = !result.result;
  }));

  start.addEventListener("click", () => busy(start, async () => {
    await one("POST", "batch-starting", { jobs: [{ job_id: jobId }] });
    location.hash = `#/task/${encodeURIComponent(jobId)}`;
  }));

  show(h("div", { class: "card" }, h("h1", {}, "New migration task"), form, h("div", { class: "actions" }, create, test, check, start), log));
}

// --- One task --------------------------------------------------------------------------------

const PAUSABLE = new Set(["FULL_TRANSFER_STARTED", "FULL_TRANSFER_COMPLETE", "INCRE_TRANSFER_STARTED"]);
const RESUMABLE = new Set(["PAUSING", "FULL_TRANSFER_FAILED", "INCRE_TRANSFER_FAILED", "START_JOB_FAILED"]);
const STOPPED = new Set(["RELEASE_RESOURCE_STARTED", "RELEASE_RESOURCE_COMPLETE", "DELETED"]);

function taskView(jobId) {
  const title = h("h1", { id: "task-title" }, jobId);
  const status = h("span", { id: "task-status" });
  const figures = h("div", { class: "kv", id: "figures" });
  const phases = h("div", { class: "phases", id: "phases" });
  const tables = h("tbody", { id: "table-rows" });
  const history = h("div", { id: "chart" });
  const errors = h("tbody", { id: "error-rows" });
  const pause = h("button", { type: "button", id: "pause", class: "secondary", disabled: true }, "Pause");
  const resume = h("button", { type: "button", id: "resume", class: "secondary", disabled: true }, "Resume");
  const stop = h("button", { type: "button", id: "stop", class: "danger", disabled: true }, "Stop");
  const act = (button, work, done) => button.addEventListener("click", async () => {
    button.disabled = true;
    try {
      await work();
      notice(done);
    } catch (error) {
      notice(describe(error));
    }
  });
  act(pause, () => one("POST", "batch-pause-task", { jobs: [{ job_id: jobId, pause_mode: "all" }] }), "Pausing…");
  act(resume, () => one("POST", "batch-retry-task", { jobs: [{ job_id: jobId }] }), "Resuming…");
  act(stop, async () => {
    if (!confirm("Stop this task? It cannot be resumed afterwards.")) throw new ApiError(0, "", "not stopped");
    await one("DELETE", "batch-jobs", { jobs: [{ job_id: jobId, delete_type: "terminate" }] });
  }, "Stopping…");

  show(
    h("div", { class: "card" }, h("div", { class: "actions" }, title, status, pause, resume, stop), figures),
    h("div", { class: "card" }, h("h2", {}, "Phases"), phases),
    h("div", { class: "card" }, h("h2", {}, "Lag and throughput, last hour"), history),
    h(
      "div",
      { class: "card" },
      h("h2", {}, "Tables"),
      h("table", { id: "tables" }, h("thead", {}, h("tr", {}, ["Source", "Target", "Rows", "Structure", "Data", "Indexes"].map((t) => h("th", {}, t)))), tables),
    ),
    h(
      "div",
      { class: "card" },
      h("h2", {}, "Errors"),
      h("table", { id: "errors" }, h("thead", {}, h("tr", {}, ["Time", "Level", "Code", "Message"].map((t) => h("th", {}, t)))), errors),
    ),
  );

  every(async (current) => {
    const [detail, measured, recent] = await Promise.all([
      one("POST", "batch-detail", { jobs: [jobId] }),
      one("POST", "batch-progress", { jobs: [jobId] }),
      call("GET", `${jobId}/history`),
    ]);
    if (!current()) return;
    const state = detail.status;
    title.textContent = `${detail.name}`;
    status.replaceChildren(statusBadge(state));
    pause.disabled = !PAUSABLE.has(state);
    resume.disabled = !RESUMABLE.has(state);
    stop.disabled = STOPPED.has(state);

    const lagMillis = Number(measured.incre_trans_delay_millis);
    const rate = Number(measured.apply_rows_rate);
    const last = recent.samples.at(-1);
    figures.replaceChildren(
      h("div", {}, h("span", {}, "Type"), h("b", {}, detail.task_type)),
      h("div", {}, h("span", {}, "Lag"), h("b", { id: "lag" }, lagText(lagMillis >= 0 ? lagMillis / 1000 : null))),
      h("div", {}, h("span", {}, "Rows/s"), h("b", { id: "rate" }, rate >= 0 ? rate : last ? last.rows_per_second : "—")),
      h("div", {}, h("span", {}, "Rows transferred"), h("b", { id: "rows" }, last ? last.rows_transferred : "—")),
    );

    const map = measured.progress_map ?? {};
    phases.replaceChildren(
      h("span", {}, "Overall"), bar(measured.progress), h("span", { class: "muted" }, measured.remaining_time > 0 ? `${measured.remaining_time} s left` : ""),
      ...[["struct", "Structure"], ["data", "Data"], ["index", "Indexes"]].flatMap(([key, label]) => {
        const phase = map[key];
        // The incremental phase reports no per-phase figures: a finished full transfer is 100% of each.
        const copied = detail.full_transfer_complete_time !== "0";
        const percent = phase ? parseInt(phase.completed, 10) : copied ? 100 : 0;
        return [h("span", {}, label), bar(percent), h("span", { class: "muted" }, phase?.remaining_time ? `${phase.remaining_time} s left` : "")];
      }),
      h("span", {}, "Incremental"),
      h("span", { id: "incremental" }, state.startsWith("INCRE") ? `running, lag ${lagText(lagMillis >= 0 ? lagMillis / 1000 : null)}` : "not started"),
      h("span"),
    );

    tables.replaceChildren(
      ...detail.table_progress.map((table) => {
        const total = Math.max(table.rows_estimate, table.rows_copied);
        return h(
          "tr",
          {},
          h("td", {}, table.source),
          h("td", {}, table.target),
          // The estimate is the source's statistics: once the data is copied, the copied count is the truth.
          table.data_done
            ? h("td", {}, bar(100, `${table.rows_copied} rows`))
            : h("td", {}, bar(total ? (table.rows_copied * 100) / total : 0, `${table.rows_copied} / ~${total}`)),
          ...[table.structure_done, table.data_done, table.index_done].map((done) => h("td", { class: done ? "ok" : "muted" }, done ? "done" : "…")),
        );
      }),
    );
    if (!detail.table_progress.length) tables.append(h("tr", {}, h("td", { colspan: 6, class: "muted" }, "The copy has not listed its tables yet.")));

    history.replaceChildren(chart(recent.samples));
    const failures = detail.logs ?? [];
    errors.replaceChildren(
      ...failures.slice().reverse().map((entry) =>
        h("tr", {}, h("td", {}, when(entry.create_time)), h("td", { class: entry.level === "error" ? "bad" : "" }, entry.level), h("td", {}, entry.error_code ?? ""), h("td", {}, entry.message)),
      ),
    );
    if (!failures.length) errors.append(h("tr", {}, h("td", { colspan: 4, class: "muted" }, "No errors.")));
  });
}

document.getElementById("sign-out").addEventListener("click", () => {
  signOut();
  location.hash = "";
  route();
});
window.addEventListener("opendrs:signed-out", route);
window.addEventListener("hashchange", route);
route();
