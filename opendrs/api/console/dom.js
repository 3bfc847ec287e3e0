// Building the page from data without innerHTML: names and messages come from users and databases.

export function h(tag, attributes = {}, ...children) {
  const svg = tag.startsWith("svg:");
  const element = svg
    ? document.createElementNS("http://www.w3.org/2000/svg", tag.slice(4))
    : document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith("on")) element.addEventListener(name.slice(2), value);
    else element.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return element;
}

export function bar(percent, label) {
  const fill = h("span");
  const clamped = Math.max(0, Math.min(100, Number(percent) || 0));
  fill.style.width = `${clamped}%`; // CSSOM, allowed by the page's Content-Security-Policy
  return h("div", { class: "bar", role: "progressbar", "aria-valuenow": clamped }, fill, h("em", {}, label ?? `${clamped}%`));
}

const RUNNING = new Set(["STARTJOBING", "FULL_TRANSFER_STARTED", "FULL_TRANSFER_COMPLETE", "INCRE_TRANSFER_STARTED"]);
const DONE = new Set(["FULL_TRANSFER_COMPLETE", "RELEASE_RESOURCE_COMPLETE", "INCRE_TRANSFER_COMPLETE"]);

export function statusBadge(status) {
  let kind = "";
  if (status.endsWith("FAILED")) kind = "failed";
  else if (status === "PAUSING") kind = "paused";
  else if (RUNNING.has(status)) kind = "running";
  else if (DONE.has(status)) kind = "done";
  return h("span", { class: `badge ${kind}`, "data-status": status }, status);
}

export function when(epochMs) {
  const value = Number(epochMs);
  return value ? new Date(value).toLocaleString() : "—";
}

export function lagText(seconds) {
  if (seconds === null || seconds === undefined || Number(seconds) < 0) return "—";
  return `${Number(seconds).toFixed(Number(seconds) < 10 ? 1 : 0)} s`;
}
