// Lookout dashboard: keeps the server-rendered page live over /ws/. No dependencies, no build step.
// The page embeds its first rows (#dashboard-initial) in the same shape as the live payloads,
// so the renderers below draw both.

import { getJson, rows, submitFormsToApi, csrfToken } from "./api.js";
import { byNewest, capfirst, h, reconcile, time } from "./dom.js";
import { connectLive, Versions } from "./live.js";

const initial = JSON.parse(document.getElementById("dashboard-initial").textContent);
const FEED_LENGTH = initial.feed_length;
const ACTIVE = new Set(["pending", "acknowledged"]);
// Live connection counts are in no frame: re-read from the status API at most this often.
const CONNECTIONS_REFRESH_MS = 30000;

const state = {
  events: new Map(initial.events.map((e) => [e.id, e])),
  alerts: new Map(initial.alerts.map((a) => [a.id, a])),
  cameras: new Map(initial.cameras.map((c) => [c.camera_id, c])),
  system: initial.system,
  versions: new Versions(),
};
const dirty = new Set(["events", "alerts", "cameras", "system"]);
let renderScheduled = false;
let firstRender = true;
let connectionsReadAt = Date.now();

// ---- rendering -------------------------------------------------------------------------------

// Marks a row sent with `critical: true` (emit_critical_event): colour and words, never colour alone.
const criticalFlag = (row) => row.critical && h("strong", { class: "flag-critical" }, "Critical");

function alertForm(alert, action, label, style) {
  return h(
    "form",
    { method: "post", action: `/alerts/${alert.id}/${action}/`, "data-api": `/api/alerts/${alert.id}/${action}/` },
    h("input", { type: "hidden", name: "csrfmiddlewaretoken", value: csrfToken }),
    h("button", { type: "submit", class: `button ${style}` }, label),
  );
}

function renderAlert(alert) {
  const status = capfirst(alert.status) + (alert.acknowledged_by ? ` by ${alert.acknowledged_by}` : "");
  return h(
    "li",
    { class: `alert${alert.critical ? " is-critical" : ""}`, id: `alert-${alert.id}`, "data-status": alert.status },
    h("span", { class: `badge risk-${alert.severity}` }, capfirst(alert.severity)),
    h(
      "div",
      { class: "item-body" },
      h("p", { class: "summary" }, criticalFlag(alert), alert.critical && " ", alert.summary),
      h("p", { class: "meta" }, `${alert.camera_name} · `, time(alert.created_at), " · ",
        h("span", { class: "status" }, status)),
    ),
    h(
      "div",
      { class: "actions" },
      alert.status === "pending" && alertForm(alert, "acknowledge", "Acknowledge", "primary"),
      alertForm(alert, "dismiss", "Dismiss", "secondary"),
    ),
  );
}

const cameraLink = (row) => h("a", { href: `/cameras/${encodeURIComponent(row.camera_id)}/` }, row.camera_name);

function renderEvent(event) {
  return h(
    "li",
    { class: `event${event.critical ? " is-critical" : ""}`, id: `event-${event.id}` },
    h("span", { class: `badge risk-${event.risk_level}` }, `${capfirst(event.risk_level)} ${event.risk_score}`),
    h(
      "div",
      { class: "item-body" },
      h("p", { class: "summary" }, criticalFlag(event), event.critical && " ",
        h("a", { href: `/events/${event.id}/` }, event.summary)),
      h("p", { class: "meta" }, cameraLink(event), " · ", time(event.started_at), event.reviewed && " · Reviewed"),
    ),
  );
}

function renderCamera(camera) {
  return h(
    "li",
    { class: "camera", id: `camera-${camera.camera_id}`, "data-status": camera.status },
    camera.snapshot_url && h("img", {
      class: "snapshot", src: camera.snapshot_url, alt: `Latest snapshot from ${camera.camera_name}`,
      loading: "lazy", width: 320, height: 180,
    }),
    h("h3", { class: "camera-name" }, cameraLink(camera)),
    h("p", { class: "meta" }, camera.location),
    h("p", {}, h("span", { class: `badge status-${camera.status}` }, capfirst(camera.status)),
      !camera.enabled && " ", !camera.enabled && h("span", { class: "badge status-disabled" }, "Disabled")),
    h("p", { class: "meta" }, "Last seen ", camera.last_seen_at ? time(camera.last_seen_at) : "never"),
  );
}

const orDash = (value, unit = "") => (value === null || value === undefined ? "—" : `${value}${unit}`);

function gpuText(gpu) {
  if (!gpu?.available) return "No GPU";
  return `${orDash(gpu.utilization, " %")} busy, ${orDash(gpu.memory_used)} of ${orDash(gpu.memory_total, " MiB")}, ${orDash(gpu.temperature, " °C")}`;
}

function connectionsText(connections) {
  const yours = `${connections.yours} of yours`;
  return connections.total === undefined ? yours : `${connections.total} in all, ${yours}`;
}

function renderSystem() {
  const { status, throughput, connections } = state.system;
  const health = document.getElementById("system-health");
  health.className = `badge health-${status.health}`;
  health.textContent = capfirst(status.health);
  reconcile(
    document.getElementById("system-components"),
    Object.entries(status.components).map(([name, value]) => ({ name, value })),
    ({ name, value }) => h("li", { id: `component-${name}`, "data-ok": value === "ok" ? "true" : "false" },
      `${capfirst(name.replaceAll("_", " "))}: ${value}`),
    "",
    false,
  );
  const queue = status.queue;
  document.getElementById("system-gpu").textContent = gpuText(status.gpu);
  document.getElementById("system-queue").textContent =
    `${queue.total_queued} queued, ${queue.total_processing} processing`;
  document.getElementById("system-throughput").textContent =
    `${throughput.detections_per_minute} detections, ${throughput.events_per_minute} events a minute`;
  document.getElementById("system-connections").textContent = connectionsText(connections);
}

function render() {
  renderScheduled = false;
  if (dirty.has("events")) {
    const sorted = [...state.events.values()].sort(byNewest("started_at"));
    // Cap the feed: what falls off the end is forgotten, so memory stays bounded too.
    for (const row of sorted.slice(FEED_LENGTH)) state.events.delete(row.id);
    reconcile(document.getElementById("events"), sorted.slice(0, FEED_LENGTH), renderEvent, "No events yet.", !firstRender);
  }
  if (dirty.has("alerts")) {
    const sorted = [...state.alerts.values()].sort(byNewest("created_at"));
    reconcile(document.getElementById("alerts"), sorted, renderAlert, "No active alerts.", !firstRender);
    const pending = sorted.filter((a) => a.status === "pending").length;
    document.getElementById("pending-count").textContent = `${pending} pending`;
    document.title = `${pending ? `(${pending}) ` : ""}Dashboard · Lookout`;
  }
  if (dirty.has("cameras")) {
    const sorted = [...state.cameras.values()].sort((a, b) => a.camera_name.localeCompare(b.camera_name));
    reconcile(document.getElementById("cameras"), sorted, renderCamera, "No cameras are shared with you.", false);
  }
  if (dirty.has("system")) renderSystem();
  dirty.clear();
  firstRender = false;
}

// Coalesce: however many frames arrive, the page is drawn at most once per animation frame.
// Hidden tabs get no animation frames, so rendering pauses and catches up on return.
function scheduleRender(...parts) {
  parts.forEach((part) => dirty.add(part));
  if (!renderScheduled) {
    renderScheduled = true;
    requestAnimationFrame(render);
  }
}

// ---- applying frames -------------------------------------------------------------------------

const SYSTEM_FRAMES = {
  "system.status": (payload) => { state.system.status = payload; },
  "system.health_changed": (payload) => {
    Object.assign(state.system.status, { health: payload.health, components: payload.components });
  },
  "gpu.stats_updated": (payload) => { state.system.status.gpu = payload; },
  "queue.status": (payload) => { state.system.status.queue = payload; },
  "pipeline.throughput": (payload) => { state.system.throughput = payload; },
};

function applyEnvelope({ type, payload, sequence }) {
  if (type.startsWith("event.")) {
    if (state.versions.isStale(`event:${payload.id}`, sequence)) return;
    if (type === "event.deleted") state.events.delete(payload.id);
    else state.events.set(payload.id, { ...state.events.get(payload.id), ...payload });
    // An event that brings a snapshot makes it its camera's latest.
    const camera = state.cameras.get(payload.camera_id);
    if (type === "event.created" && camera && payload.best_snapshot_url) {
      camera.snapshot_url = payload.best_snapshot_url;
      scheduleRender("cameras");
    }
    scheduleRender("events");
  } else if (type.startsWith("alert.")) {
    if (state.versions.isStale(`alert:${payload.id}`, sequence)) return;
    if (type === "alert.deleted" || !ACTIVE.has(payload.status)) state.alerts.delete(payload.id);
    else state.alerts.set(payload.id, { ...state.alerts.get(payload.id), ...payload });
    scheduleRender("alerts");
  } else if (type.startsWith("camera.")) {
    if (state.versions.isStale(`camera:${payload.camera_id}`, sequence)) return;
    state.cameras.set(payload.camera_id, { ...state.cameras.get(payload.camera_id), ...payload });
    scheduleRender("cameras");
  } else if (type in SYSTEM_FRAMES) {
    SYSTEM_FRAMES[type](payload);
    if (type === "system.status" && Date.now() - connectionsReadAt > CONNECTIONS_REFRESH_MS) refreshConnections();
    scheduleRender("system");
  }
}

// ---- REST: reload after a gap, the connection figures, and the alert buttons -----------------

const fromRestAlert = (a) => ({
  ...a,
  rule_id: a.rule?.id ?? null,
  risk_score: a.event.risk_score,
  risk_level: a.event.risk_level,
  summary: a.event.summary,
  started_at: a.event.started_at,
});
const fromRestCamera = (c) => ({ ...c, camera_id: c.id, camera_name: c.name });

async function reloadFromApi() {
  const [events, pending, acknowledged, cameras] = await Promise.all([
    getJson(`/api/events/?page_size=${FEED_LENGTH}`),
    getJson("/api/alerts/?status=pending"),
    getJson("/api/alerts/?status=acknowledged"),
    getJson("/api/cameras/"),
  ]);
  state.events = new Map(rows(events).map((e) => [e.id, e]));
  state.alerts = new Map([...rows(pending), ...rows(acknowledged)].map((a) => [a.id, fromRestAlert(a)]));
  // The snapshot a tile shows is not in the cameras API: keep the one the page has.
  state.cameras = new Map(rows(cameras).map((c) => [c.id, { ...state.cameras.get(c.id), ...fromRestCamera(c) }]));
  state.versions.clear();
  scheduleRender("events", "alerts", "cameras");
}

async function refreshConnections() {
  connectionsReadAt = Date.now();
  try {
    state.system.connections = (await getJson("/api/system/status/")).realtime.connections;
  } catch {
    return; // the next system.status tries again
  }
  scheduleRender("system");
}

async function reloadAlerts() {
  const [pending, acknowledged] = await Promise.all([
    getJson("/api/alerts/?status=pending"),
    getJson("/api/alerts/?status=acknowledged"),
  ]);
  state.alerts = new Map([...rows(pending), ...rows(acknowledged)].map((a) => [a.id, fromRestAlert(a)]));
  scheduleRender("alerts");
}

// Acknowledge / dismiss through the API; the form's own POST is the fallback without JavaScript.
submitFormsToApi(async (response) => {
  if (response.ok) {
    const alert = fromRestAlert(await response.json());
    if (ACTIVE.has(alert.status)) state.alerts.set(alert.id, { ...state.alerts.get(alert.id), ...alert });
    else state.alerts.delete(alert.id);
    scheduleRender("alerts");
  } else if (response.status === 409 || response.status === 404) {
    // Someone else moved or removed it first: show the alerts as they are now.
    await reloadAlerts();
  }
});

scheduleRender();
connectLive({
  channels: ["events", "alerts", "cameras", "system"],
  since: initial.since,
  onEnvelope: applyEnvelope,
  onReload: reloadFromApi,
});
