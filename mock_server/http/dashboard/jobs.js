// The job list: one row per job, newest first, kept up to date by the stream's
// events; cancel, retry, result downloads and each job's event log. Every string
// from the network reaches the page through textContent (never as HTML).

import { api, ApiError, filenameOf, json } from "./api.js";

const $ = (id) => document.getElementById(id);
const TERMINAL = new Set(["completed", "failed", "cancelled"]);
const PAGE = 50;

const rows = new Map(); // jobId -> {job, li}
const loading = new Map(); // jobId -> Promise (a job first seen on the stream)
const early = new Map(); // jobId -> events that came while it was being read
let nextOffset = null;
let generation = 0; // a sign-out drops what was still being read for the last user

export function reset() {
  generation += 1;
  for (const { li } of rows.values()) closeLog(li);
  rows.clear();
  loading.clear();
  early.clear();
  $("jobs").replaceChildren();
  nextOffset = null;
  counts();
}

// The first page (again): rows are merged, never replaced by an older state.
export async function refresh() {
  const mine = generation;
  const list = await json(`/api/jobs?limit=${PAGE}`);
  if (mine !== generation) return;
  for (const job of list.jobs) upsert(job);
  if (nextOffset === null || rows.size <= PAGE) nextOffset = list.nextOffset;
  counts(list.total);
  $("jobs-error").textContent = "";
}

export async function more() {
  if (nextOffset === null) return;
  const mine = generation;
  const list = await json(`/api/jobs?limit=${PAGE}&offset=${nextOffset}`);
  if (mine !== generation) return;
  for (const job of list.jobs) upsert(job);
  nextOffset = list.nextOffset;
  counts(list.total);
}

let total = 0;
function counts(known) {
  if (known !== undefined) total = Math.max(known, rows.size);
  $("job-count").textContent = rows.size ? `(${rows.size} of ${Math.max(total, rows.size)})` : "";
  $("no-jobs").hidden = rows.size > 0;
  $("more").hidden = nextOffset === null;
}

// One event of the multiplexed stream.
export function onEvent(name, data) {
  const row = rows.get(data.jobId);
  if (!row) {
    // a job first seen here: read it, and apply what arrives meanwhile once it is in
    if (!early.has(data.jobId)) early.set(data.jobId, []);
    early.get(data.jobId).push([name, data]);
    fetchJob(data.jobId);
    return;
  }
  const job = { ...row.job };
  if (name === "complete") {
    if (data.job && typeof data.job === "object") Object.assign(job, data.job);
    else {
      job.status = data.status;
      if (data.error) job.error = data.error;
      if (data.resultUrl) job.resultUrl = data.resultUrl;
    }
  } else if (TERMINAL.has(job.status)) {
    return; // terminal states never change: an older event
  } else if (name === "status") {
    job.status = data.status;
    if (data.restarted) job.progress = undefined;
    if (data.progress) job.progress = data.progress;
  } else if (name === "progress") {
    const before = job.progress;
    if (before && before.total === data.total && before.current > data.current) return;
    if (job.status === "pending") job.status = "processing";
    job.progress = { current: data.current, total: data.total, message: data.message };
  }
  row.job = job;
  paint(row.li, job);
}

function fetchJob(jobId) {
  if (loading.has(jobId)) return loading.get(jobId);
  const mine = generation;
  const promise = json(`/api/jobs/${encodeURIComponent(jobId)}`)
    .then((job) => {
      if (mine !== generation) return;
      upsert(job);
      counts(total + 1);
    })
    .catch(() => {})
    .finally(() => {
      if (mine !== generation) return;
      loading.delete(jobId);
      const missed = early.get(jobId) || [];
      early.delete(jobId);
      if (rows.has(jobId)) for (const [name, data] of missed) onEvent(name, data);
    });
  loading.set(jobId, promise);
  return promise;
}

function newer(old, job) {
  if (!old) return true;
  if (TERMINAL.has(old.status)) return TERMINAL.has(job.status);
  if (old.status === "processing" && job.status === "pending") return false;
  const a = old.progress ? old.progress.current : -1;
  const b = job.progress ? job.progress.current : -1;
  return TERMINAL.has(job.status) || job.status !== old.status || b >= a || job.attempt !== old.attempt;
}

function upsert(job) {
  if (!job || typeof job.jobId !== "string") return;
  const row = rows.get(job.jobId);
  if (row) {
    if (newer(row.job, job)) {
      row.job = job;
      paint(row.li, job);
    }
    return;
  }
  const li = $("job-template").content.firstElementChild.cloneNode(true);
  li.dataset.jobId = job.jobId;
  const entry = { job, li };
  rows.set(job.jobId, entry);
  wire(entry);
  paint(li, job);
  // newest first: before the first row created earlier
  const list = $("jobs");
  const later = [...list.children].find((other) => {
    const o = rows.get(other.dataset.jobId);
    return o && String(o.job.createdAt) < String(job.createdAt);
  });
  list.insertBefore(li, later || null);
}

const f = (li, name) => li.querySelector(`[data-f="${name}"]`);
const a = (li, name) => li.querySelector(`[data-a="${name}"]`);

function fraction(job) {
  if (job.status === "completed") return 1;
  const p = job.progress;
  if (p && typeof p.current === "number" && typeof p.total === "number" && p.total > 0) {
    return Math.max(0, Math.min(1, p.current / p.total));
  }
  return 0;
}

function short(value, limit = 300) {
  const text = typeof value === "string" ? value : JSON.stringify(value);
  return text && text.length > limit ? `${text.slice(0, limit)}…` : text || "";
}

function messageOf(job) {
  if (job.status === "failed" && job.error) {
    return `${job.error.code || "error"}: ${job.error.message || ""}`;
  }
  if (job.status === "completed" && job.output !== undefined) return `output ${short(job.output)}`;
  if (job.status === "cancelled") return "cancelled";
  if (job.progress && job.progress.message) return job.progress.message;
  return job.status === "pending" ? "waiting for a worker" : "";
}

function paint(li, job) {
  li.dataset.status = job.status;
  const badge = f(li, "status");
  badge.textContent = job.status;
  badge.className = `badge s-${/^[a-z]+$/.test(job.status) ? job.status : "unknown"}`;
  f(li, "type").textContent = job.type;
  f(li, "id").textContent = job.jobId.slice(0, 8);
  f(li, "id").title = job.jobId;
  const created = f(li, "created");
  created.dateTime = job.createdAt;
  const when = new Date(job.createdAt);
  created.textContent = Number.isNaN(when.getTime()) ? "" : when.toLocaleTimeString();
  const value = fraction(job);
  const bar = f(li, "bar");
  bar.value = value;
  const pct = `${Math.round(value * 100)}%`;
  f(li, "pct").textContent = pct;
  bar.setAttribute("aria-label", `${job.type} ${job.jobId.slice(0, 8)}: ${pct}`);
  f(li, "message").textContent = messageOf(job);
  const live = job.status === "pending" || job.status === "processing";
  a(li, "cancel").hidden = !live;
  a(li, "retry").hidden = !(job.status === "failed" && job.error && job.error.retryable);
  const result = job.status === "completed" && typeof job.resultUrl === "string";
  const foreign = result && new URL(job.resultUrl, location.href).origin !== location.origin;
  a(li, "download").hidden = !result || foreign;
  const link = a(li, "link");
  link.hidden = !foreign;
  if (foreign) link.href = job.resultUrl; // presigned: carries its own signature, no token
  else link.removeAttribute("href");
}

function wire(entry) {
  const { li } = entry;
  const id = () => encodeURIComponent(entry.job.jobId);
  const act = (name, work) => {
    const button = a(li, name);
    button.addEventListener("click", async () => {
      button.disabled = true;
      f(li, "error").textContent = "";
      try {
        await work();
      } catch (err) {
        f(li, "error").textContent = err instanceof Error ? err.message : String(err);
      } finally {
        button.disabled = false;
      }
    });
  };
  act("cancel", async () => {
    const body = await json(`/api/jobs/${id()}`, { method: "DELETE" });
    if (body && body.status) onEvent("status", { jobId: entry.job.jobId, status: body.status });
  });
  act("retry", async () => {
    const body = await json(`/api/jobs/${id()}/retry`, { method: "POST" });
    if (body && body.jobId) await fetchJob(body.jobId);
  });
  act("download", () => download(entry.job));
  a(li, "events").addEventListener("click", () => toggleLog(entry));
}

// The result needs the Authorization header: fetched as a blob, saved through an object URL.
async function download(job) {
  const response = await api(job.resultUrl);
  const blob = await response.blob();
  const name = filenameOf(response.headers.get("Content-Disposition"), `${job.jobId}.bin`);
  const url = URL.createObjectURL(blob);
  const link = document.createElement("a");
  link.href = url;
  link.download = name;
  link.hidden = true;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60000);
}

// -- the event log of one job: its whole per-job stream (Last-Event-ID: 0 replays it) --

const readers = new WeakMap(); // li -> AbortController

function closeLog(li) {
  const controller = readers.get(li);
  if (controller) controller.abort();
  readers.delete(li);
}

function toggleLog(entry) {
  const { li } = entry;
  const button = a(li, "events");
  const log = f(li, "log");
  if (!log.hidden) {
    closeLog(li);
    log.hidden = true;
    button.setAttribute("aria-expanded", "false");
    return;
  }
  log.replaceChildren();
  log.hidden = false;
  button.setAttribute("aria-expanded", "true");
  const controller = new AbortController();
  readers.set(li, controller);
  readLog(entry.job.jobId, log, controller.signal).catch((err) => {
    if (controller.signal.aborted) return;
    const item = document.createElement("li");
    item.className = "field-error";
    item.textContent = err instanceof ApiError || err instanceof Error ? err.message : String(err);
    log.append(item);
  });
}

function summary(name, data) {
  if (name === "progress") return `${data.current}/${data.total} ${data.message || ""}`.trim();
  if (name === "complete") {
    const error = data.error ? ` ${data.error.code}: ${data.error.message}` : "";
    return `${data.status}${error}`;
  }
  if (name === "status") {
    const p = data.progress ? ` ${data.progress.current}/${data.progress.total}` : "";
    return `${data.status}${p}${data.restarted ? " (restarted)" : ""}`;
  }
  return short(data);
}

async function readLog(jobId, log, signal) {
  const response = await api(`/api/jobs/${encodeURIComponent(jobId)}/events`, {
    headers: { Accept: "text/event-stream", "Last-Event-ID": "0" },
    signal,
  });
  if (response.status === 204 || !response.body) return;
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += value.replace(/\r\n?/g, "\n");
    let end;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const event = { name: "message", id: "", data: [] };
      for (const line of block.split("\n")) {
        if (line.startsWith(":")) continue;
        const colon = line.indexOf(":");
        const field = colon < 0 ? line : line.slice(0, colon);
        const text = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
        if (field === "event") event.name = text;
        else if (field === "id") event.id = text;
        else if (field === "data") event.data.push(text);
      }
      if (!event.data.length) continue;
      let data;
      try {
        data = JSON.parse(event.data.join("\n"));
      } catch {
        data = event.data.join("\n");
      }
      const item = document.createElement("li");
      const id = document.createElement("span");
      id.className = "muted";
      id.textContent = `#${event.id} `;
      const name = document.createElement("strong");
      name.textContent = event.name;
      item.append(id, name, document.createTextNode(` ${summary(event.name, data)}`));
      log.append(item);
    }
  }
}
