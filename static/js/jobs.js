// Lookout jobs page: each job's progress moves live over /ws/ (the jobs channel). The page embeds its
// first rows (#jobs-initial) in the shape of the job.* payloads, so one renderer draws both.

import { csrfToken, getJson, rows, submitFormsToApi } from "./api.js";
import { capfirst, h, reconcile, time } from "./dom.js";
import { connectLive, Versions } from "./live.js";

const initial = JSON.parse(document.getElementById("jobs-initial").textContent);
const CANCELLABLE = new Set(initial.cancellable);
const state = {
  jobs: new Map(initial.jobs.map((job) => [job.job_id, job])),
  versions: new Versions(),
};
let renderScheduled = false;
let firstRender = true;

function exportScope(params) {
  const parts = [(params.format ?? "csv").toUpperCase()];
  if (params.camera) parts.push(initial.camera_names[params.camera] ?? params.camera);
  if (params.min_risk_score !== undefined && params.min_risk_score !== null) parts.push(`risk ≥ ${params.min_risk_score}`);
  if (params.started_after) parts.push(`from ${params.started_after}`);
  if (params.started_before) parts.push(`before ${params.started_before}`);
  return parts.join(" · ");
}

function renderJob(job) {
  const title = initial.job_types[job.job_type] ?? job.job_type;
  return h(
    "li",
    { class: "job", id: `job-${job.job_id}`, "data-status": job.status },
    h("span", { class: `badge job-${job.status}` }, capfirst(job.status)),
    h(
      "div",
      { class: "item-body" },
      h("p", { class: "summary" }, title, job.job_type === "export" && job.params && ` · ${exportScope(job.params)}`),
      h("p", { class: "progress-row" },
        h("progress", { max: 100, value: job.progress, "aria-label": `Progress of job ${job.job_id}` }),
        " ", h("span", { class: "percent" }, `${job.progress} %`)),
      h("p", { class: "meta" }, "Queued ", time(job.created_at), job.message && ` · ${job.message}`,
        job.error && " · ", job.error && h("span", { class: "error-text" }, job.error)),
    ),
    h(
      "div",
      { class: "actions" },
      CANCELLABLE.has(job.status) && h(
        "form",
        { method: "post", action: `/jobs/${job.job_id}/cancel/`, "data-api": `/api/jobs/${job.job_id}/cancel/` },
        h("input", { type: "hidden", name: "csrfmiddlewaretoken", value: csrfToken }),
        h("button", { type: "submit", class: "button secondary" }, "Cancel"),
      ),
      job.download_url && h("a", { class: "button primary", href: job.download_url, download: "" }, "Download"),
    ),
  );
}

const newestFirst = (a, b) => (b.created_at < a.created_at ? -1 : b.created_at > a.created_at ? 1 : 0);

function render() {
  renderScheduled = false;
  const sorted = [...state.jobs.values()].sort(newestFirst);
  for (const job of sorted.slice(initial.list_length)) state.jobs.delete(job.job_id);
  reconcile(document.getElementById("jobs"), sorted.slice(0, initial.list_length), renderJob, "No jobs yet.", !firstRender);
  firstRender = false;
}

// At most one drawing per animation frame, however many progress frames arrive.
function scheduleRender() {
  if (!renderScheduled) {
    renderScheduled = true;
    requestAnimationFrame(render);
  }
}

function applyEnvelope({ type, payload, sequence }) {
  if (!type.startsWith("job.")) return;
  if (state.versions.isStale(`job:${payload.job_id}`, sequence)) return;
  state.jobs.set(payload.job_id, { ...state.jobs.get(payload.job_id), ...payload });
  scheduleRender();
}

// The REST job has `id` where the payload has `job_id`.
const fromRestJob = (job) => ({ ...job, job_id: job.id });

async function reloadFromApi() {
  const jobs = rows(await getJson(`/api/jobs/?page_size=${initial.list_length}`));
  state.jobs = new Map(jobs.map((job) => [job.id, fromRestJob(job)]));
  state.versions.clear();
  scheduleRender();
}

// Cancel through the API; the form's own POST is the fallback without JavaScript.
submitFormsToApi(async (response) => {
  if (response.ok) {
    const job = fromRestJob(await response.json());
    state.jobs.set(job.job_id, { ...state.jobs.get(job.job_id), ...job });
    scheduleRender();
  } else if (response.status === 409 || response.status === 404) {
    // It finished (or went) first: show the jobs as they are now.
    await reloadFromApi();
  }
});

scheduleRender();
connectLive({ channels: ["jobs"], since: initial.since, onEnvelope: applyEnvelope, onReload: reloadFromApi });
