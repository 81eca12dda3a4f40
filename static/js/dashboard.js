// Lookout dashboard: keeps the server-rendered page live over /ws/. No dependencies, no build step.
// The page embeds its first rows (#dashboard-initial) in the same shape as the live payloads,
// so the renderers below draw both.

const initial = JSON.parse(document.getElementById("dashboard-initial").textContent);
const FEED_LENGTH = initial.feed_length;
const CHANNELS = ["events", "alerts", "cameras"];
const ACTIVE = new Set(["pending", "acknowledged"]);
const BACKOFF_BASE_MS = 1000;
const BACKOFF_MAX_MS = 30000;
// After this many failed attempts in a row the indicator says offline (it keeps retrying).
const OFFLINE_AFTER_ATTEMPTS = 4;
// Sequences remembered for de-duplication; live frames are only slightly out of order.
const SEEN_LIMIT = 5000;

const csrfToken = document.querySelector("input[name=csrfmiddlewaretoken]")?.value ?? "";
const timeFormat = new Intl.DateTimeFormat(undefined, {
  month: "short", day: "numeric", hour: "2-digit", minute: "2-digit", second: "2-digit", hourCycle: "h23",
});

const state = {
  events: new Map(initial.events.map((e) => [e.id, e])),
  alerts: new Map(initial.alerts.map((a) => [a.id, a])),
  cameras: new Map(initial.cameras.map((c) => [c.camera_id, c])),
  // Per row, the sequence of the frame that last changed it: an older frame never overwrites it.
  versions: new Map(),
  seen: new Set(),
  lastSequence: initial.since,
  connection: "connecting",
  lastMessageAt: null,
  retryAt: null,
};
const dirty = new Set(["events", "alerts", "cameras", "connection"]);
let renderScheduled = false;
let socket = null;
let attempts = 0;
let retryTimer = null;

// ---- rendering -------------------------------------------------------------------------------

function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value !== null && value !== undefined && value !== false) el.setAttribute(name, value);
  }
  el.append(...children.flat().filter((c) => c !== null && c !== undefined && c !== false));
  return el;
}

const capfirst = (text) => (text ? text[0].toUpperCase() + text.slice(1) : "");
const time = (iso) => h("time", { datetime: iso }, timeFormat.format(new Date(iso)));

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
    { class: "alert", id: `alert-${alert.id}`, "data-status": alert.status },
    h("span", { class: `badge risk-${alert.severity}` }, capfirst(alert.severity)),
    h(
      "div",
      { class: "item-body" },
      h("p", { class: "summary" }, alert.summary),
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

function renderEvent(event) {
  return h(
    "li",
    { class: "event", id: `event-${event.id}` },
    h("span", { class: `badge risk-${event.risk_level}` }, `${capfirst(event.risk_level)} ${event.risk_score}`),
    h(
      "div",
      { class: "item-body" },
      h("p", { class: "summary" }, event.summary),
      h("p", { class: "meta" }, `${event.camera_name} · `, time(event.started_at), event.reviewed && " · Reviewed"),
    ),
  );
}

function renderCamera(camera) {
  return h(
    "li",
    { class: "camera", id: `camera-${camera.camera_id}`, "data-status": camera.status },
    h("h3", { class: "camera-name" }, camera.camera_name),
    h("p", { class: "meta" }, camera.location),
    h("p", {}, h("span", { class: `badge status-${camera.status}` }, capfirst(camera.status)),
      !camera.enabled && " ", !camera.enabled && h("span", { class: "badge status-disabled" }, "Disabled")),
    h("p", { class: "meta" }, "Last seen ", camera.last_seen_at ? time(camera.last_seen_at) : "never"),
  );
}

// Keyed update: unchanged rows keep their element (and the keyboard focus inside it).
const signatures = new WeakMap();

function reconcile(list, rows, render, emptyText, animate) {
  const existing = new Map([...list.children].map((el) => [el.id, el]));
  const wanted = rows.map((row) => {
    const el = render(row);
    const signature = JSON.stringify(row);
    const old = existing.get(el.id);
    if (old && signatures.get(old) === signature) return old;
    signatures.set(el, signature);
    if (animate && !old) el.classList.add("is-new");
    return el;
  });
  if (!wanted.length) wanted.push(h("li", { class: "empty" }, emptyText));
  const keep = new Set(wanted);
  for (const el of [...list.children]) if (!keep.has(el)) el.remove();
  wanted.forEach((el, index) => {
    if (list.children[index] !== el) list.insertBefore(el, list.children[index] ?? null);
  });
}

const byNewest = (field) => (a, b) => (b[field] < a[field] ? -1 : b[field] > a[field] ? 1 : b.id - a.id);
let firstRender = true;

function render() {
  renderScheduled = false;
  if (dirty.has("events")) {
    const rows = [...state.events.values()].sort(byNewest("started_at"));
    // Cap the feed: what falls off the end is forgotten, so memory stays bounded too.
    for (const row of rows.slice(FEED_LENGTH)) state.events.delete(row.id);
    reconcile(document.getElementById("events"), rows.slice(0, FEED_LENGTH), renderEvent, "No events yet.", !firstRender);
  }
  if (dirty.has("alerts")) {
    const rows = [...state.alerts.values()].sort(byNewest("created_at"));
    reconcile(document.getElementById("alerts"), rows, renderAlert, "No active alerts.", !firstRender);
    const pending = rows.filter((a) => a.status === "pending").length;
    document.getElementById("pending-count").textContent = `${pending} pending`;
    document.title = `${pending ? `(${pending}) ` : ""}Dashboard · Lookout`;
  }
  if (dirty.has("cameras")) {
    const rows = [...state.cameras.values()].sort((a, b) => a.camera_name.localeCompare(b.camera_name));
    reconcile(document.getElementById("cameras"), rows, renderCamera, "No cameras are shared with you.", false);
  }
  if (dirty.has("connection")) renderConnection();
  dirty.clear();
  firstRender = false;
}

function renderConnection() {
  const el = document.getElementById("connection");
  el.dataset.state = state.connection;
  const last = state.lastMessageAt ? `, last message ${timeFormat.format(state.lastMessageAt)}` : "";
  const retry = state.retryAt ? `, retrying in ${Math.max(1, Math.round((state.retryAt - Date.now()) / 1000))} s` : "";
  const text = {
    connecting: "Connecting…",
    live: `Live${last}`,
    reconnecting: `Reconnecting${retry}${last}`,
    offline: `Offline${retry}${last}`,
  }[state.connection];
  el.querySelector(".connection-text").textContent = text;
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

function isStale(key, sequence) {
  if (sequence === null || sequence === undefined) return false;
  if ((state.versions.get(key) ?? -1) > sequence) return true;
  state.versions.set(key, sequence);
  return false;
}

function applyEnvelope(frame) {
  const { type, payload, sequence } = frame;
  if (sequence !== null && sequence !== undefined) {
    if (state.seen.has(sequence)) return;
    state.seen.add(sequence);
    if (state.seen.size > SEEN_LIMIT) state.seen.delete(state.seen.values().next().value);
    state.lastSequence = Math.max(state.lastSequence, sequence);
  }
  if (type.startsWith("event.")) {
    if (isStale(`event:${payload.id}`, sequence)) return;
    if (type === "event.deleted") state.events.delete(payload.id);
    else state.events.set(payload.id, { ...state.events.get(payload.id), ...payload });
    scheduleRender("events");
  } else if (type.startsWith("alert.")) {
    if (isStale(`alert:${payload.id}`, sequence)) return;
    if (type === "alert.deleted" || !ACTIVE.has(payload.status)) state.alerts.delete(payload.id);
    else state.alerts.set(payload.id, payload);
    scheduleRender("alerts");
  } else if (type.startsWith("camera.")) {
    if (isStale(`camera:${payload.camera_id}`, sequence)) return;
    state.cameras.set(payload.camera_id, { ...state.cameras.get(payload.camera_id), ...payload });
    scheduleRender("cameras");
  }
}

function onFrame(frame) {
  state.lastMessageAt = new Date();
  dirty.add("connection");
  switch (frame.type) {
    case "batch":
      frame.messages.forEach(applyEnvelope);
      break;
    case "connection.established":
      // Our resume point is past the hub's history: another hub or a reset database.
      if (state.lastSequence > frame.payload.last_sequence) {
        state.lastSequence = frame.payload.last_sequence;
        reloadFromApi();
      }
      send({ action: "subscribe", channels: CHANNELS, request_id: "subscribe" });
      // After subscribing, so nothing falls between the replay and the live frames.
      send({ action: "resume", since: state.lastSequence, request_id: "resume" });
      break;
    case "resume.gap":
      state.lastSequence = Math.max(state.lastSequence, frame.payload.last_sequence);
      reloadFromApi();
      break;
    default:
      if (frame.channel) applyEnvelope(frame);
  }
  scheduleRender();
}

// ---- REST: reload after a gap, and the alert buttons -----------------------------------------

const fromRestAlert = (a) => ({
  ...a,
  rule_id: a.rule?.id ?? null,
  risk_score: a.event.risk_score,
  risk_level: a.event.risk_level,
  summary: a.event.summary,
  started_at: a.event.started_at,
});
const fromRestCamera = (c) => ({ ...c, camera_id: c.id, camera_name: c.name });

async function getJson(url) {
  const response = await fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" });
  if (!response.ok) throw new Error(`${url}: ${response.status}`);
  return response.json();
}

const rows = (page) => page.results ?? page;

async function reloadFromApi() {
  const [events, pending, acknowledged, cameras] = await Promise.all([
    getJson(`/api/events/?page_size=${FEED_LENGTH}`),
    getJson("/api/alerts/?status=pending"),
    getJson("/api/alerts/?status=acknowledged"),
    getJson("/api/cameras/"),
  ]);
  state.events = new Map(rows(events).map((e) => [e.id, e]));
  state.alerts = new Map([...rows(pending), ...rows(acknowledged)].map((a) => [a.id, fromRestAlert(a)]));
  state.cameras = new Map(rows(cameras).map((c) => [c.id, fromRestCamera(c)]));
  state.versions.clear();
  scheduleRender("events", "alerts", "cameras");
}

// Acknowledge / dismiss through the API; the form's own POST is the fallback without JavaScript.
document.addEventListener("submit", async (submitEvent) => {
  const form = submitEvent.target;
  if (!form.dataset.api) return;
  submitEvent.preventDefault();
  const button = form.querySelector("button");
  button.disabled = true;
  let response;
  try {
    response = await fetch(form.dataset.api, {
      method: "POST",
      headers: { Accept: "application/json", "X-CSRFToken": csrfToken },
      credentials: "same-origin",
    });
  } catch {
    form.submit();
    return;
  }
  button.disabled = false;
  if (response.ok) {
    const alert = fromRestAlert(await response.json());
    if (ACTIVE.has(alert.status)) state.alerts.set(alert.id, alert);
    else state.alerts.delete(alert.id);
    scheduleRender("alerts");
  } else if (response.status === 409 || response.status === 404) {
    // Someone else moved or removed it first: show the alerts as they are now.
    const [pending, acknowledged] = await Promise.all([
      getJson("/api/alerts/?status=pending"),
      getJson("/api/alerts/?status=acknowledged"),
    ]);
    state.alerts = new Map([...rows(pending), ...rows(acknowledged)].map((a) => [a.id, fromRestAlert(a)]));
    scheduleRender("alerts");
  }
});

// ---- the socket ------------------------------------------------------------------------------

function send(message) {
  if (socket?.readyState === WebSocket.OPEN) socket.send(JSON.stringify(message));
}

function connect() {
  clearTimeout(retryTimer);
  state.retryAt = null;
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  // The session cookie authenticates; the browser sends our Origin with it.
  socket = new WebSocket(`${scheme}//${location.host}/ws/`);
  socket.addEventListener("open", () => {
    attempts = 0;
    state.connection = "live";
    scheduleRender("connection");
  });
  socket.addEventListener("message", (message) => {
    let frame;
    try {
      frame = JSON.parse(message.data);
    } catch {
      return;
    }
    onFrame(frame);
  });
  socket.addEventListener("close", (closeEvent) => {
    socket = null;
    if (closeEvent.code === 4403) {
      // Signed out or revoked elsewhere: the reload lands on the sign-in page.
      location.reload();
      return;
    }
    scheduleReconnect();
  });
}

// Exponential backoff with full jitter, so a restarted hub is not hit by every tab at once.
function scheduleReconnect() {
  attempts += 1;
  const ceiling = Math.min(BACKOFF_MAX_MS, BACKOFF_BASE_MS * 2 ** (attempts - 1));
  const delay = ceiling / 2 + Math.random() * (ceiling / 2);
  state.retryAt = Date.now() + delay;
  state.connection = !navigator.onLine || attempts > OFFLINE_AFTER_ATTEMPTS ? "offline" : "reconnecting";
  retryTimer = setTimeout(connect, delay);
  scheduleRender("connection");
}

window.addEventListener("online", () => {
  if (!socket) connect();
});
// The "retrying in" countdown and "last message" stay current without frames.
setInterval(() => scheduleRender("connection"), 1000);

scheduleRender();
connect();
