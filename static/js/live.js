// Lookout's live connection, shared by every page that stays live over /ws/. No dependencies.
// It reconnects with backoff and jitter, resumes from the last sequence it saw, drops duplicates,
// unpacks batch frames and keeps the connection indicator (#connection) current; the page only
// applies envelopes (`onEnvelope`) and reloads its lists from the API when told (`onReload`).

const BACKOFF_BASE_MS = 1000;
const BACKOFF_MAX_MS = 30000;
// After this many failed attempts in a row the indicator says offline (it keeps retrying).
const OFFLINE_AFTER_ATTEMPTS = 4;
// Sequences remembered for de-duplication; live frames are only slightly out of order.
const SEEN_LIMIT = 5000;

export const timeFormat = new Intl.DateTimeFormat(undefined, {
  month: "short", day: "numeric", hour: "2-digit", minute: "2-digit", second: "2-digit", hourCycle: "h23",
});

/** Per row, the sequence of the frame that last changed it: an older frame never overwrites it. */
export class Versions {
  constructor() {
    this.bySequence = new Map();
  }

  isStale(key, sequence) {
    if (sequence === null || sequence === undefined) return false;
    if ((this.bySequence.get(key) ?? -1) > sequence) return true;
    this.bySequence.set(key, sequence);
    return false;
  }

  clear() {
    this.bySequence.clear();
  }
}

/**
 * Connect to /ws/, subscribe to `channels` (with `filters`) and resume after `since`.
 * `onEnvelope(frame)` gets each new envelope once; `onReload()` is called when the page must
 * re-read its lists (a gap in the history, a hub that restarted with a fresh history, or live
 * messages lost that nothing can replay).
 */
export function connectLive({ channels, filters = undefined, since, onEnvelope, onReload }) {
  const state = { connection: "connecting", lastMessageAt: null, retryAt: null };
  const seen = new Set();
  const indicator = document.getElementById("connection");
  let lastSequence = since;
  let socket = null;
  let attempts = 0;
  let retryTimer = null;
  let indicatorScheduled = false;

  function renderIndicator() {
    indicatorScheduled = false;
    indicator.dataset.state = state.connection;
    const last = state.lastMessageAt ? `, last message ${timeFormat.format(state.lastMessageAt)}` : "";
    const retry = state.retryAt ? `, retrying in ${Math.max(1, Math.round((state.retryAt - Date.now()) / 1000))} s` : "";
    indicator.querySelector(".connection-text").textContent = {
      connecting: "Connecting…",
      live: `Live${last}`,
      reconnecting: `Reconnecting${retry}${last}`,
      offline: `Offline${retry}${last}`,
    }[state.connection];
  }

  // Drawn at most once per animation frame; hidden tabs get none, and catch up on return.
  function scheduleIndicator() {
    if (!indicatorScheduled) {
      indicatorScheduled = true;
      requestAnimationFrame(renderIndicator);
    }
  }

  function send(message) {
    if (socket?.readyState === WebSocket.OPEN) socket.send(JSON.stringify(message));
  }

  function applyEnvelope(frame) {
    const { sequence } = frame;
    if (sequence !== null && sequence !== undefined) {
      if (seen.has(sequence)) return;
      seen.add(sequence);
      if (seen.size > SEEN_LIMIT) seen.delete(seen.values().next().value);
      lastSequence = Math.max(lastSequence, sequence);
    }
    onEnvelope(frame);
  }

  function onFrame(frame) {
    state.lastMessageAt = new Date();
    scheduleIndicator();
    switch (frame.type) {
      case "batch":
        frame.messages.forEach(applyEnvelope);
        break;
      case "connection.established":
        // Our resume point is past the hub's history: another hub or a reset database.
        if (lastSequence > frame.payload.last_sequence) {
          lastSequence = frame.payload.last_sequence;
          onReload();
        }
        send({ action: "subscribe", channels, filters, request_id: "subscribe" });
        // After subscribing, so nothing falls between the replay and the live frames.
        send({ action: "resume", since: lastSequence, request_id: "resume" });
        break;
      case "resume.gap":
        lastSequence = Math.max(lastSequence, frame.payload.last_sequence);
        onReload();
        break;
      case "resume.hint":
        // Live messages were lost on the way; the server still has them.
        send({ action: "resume", since: Math.min(lastSequence, frame.payload.since), request_id: "resume" });
        break;
      case "reload.hint":
        // Lost messages that nothing can replay (on channels this page listens to): re-read the lists.
        onReload();
        break;
      default:
        if (frame.channel) applyEnvelope(frame);
    }
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
      scheduleIndicator();
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
    scheduleIndicator();
  }

  window.addEventListener("online", () => {
    if (!socket) connect();
  });
  // The "retrying in" countdown and "last message" stay current without frames.
  setInterval(scheduleIndicator, 1000);
  scheduleIndicator();
  connect();
}
