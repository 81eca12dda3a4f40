// Event page: the reviewed toggle and the notes saved through PATCH /api/events/<id>/ without a reload.
// Without JavaScript the same form posts to the page's review view, which calls the same service.

const form = document.getElementById("review");
const reviewed = form.elements.reviewed;
const notes = form.elements.notes;
const status = document.getElementById("review-status");
const saveButton = form.querySelector("button[type=submit]");
const csrfToken = form.elements.csrfmiddlewaretoken.value;
const timeFormat = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit", second: "2-digit", hourCycle: "h23" });

function problemText(body) {
  if (!body || typeof body !== "object") return "";
  return Object.entries(body).map(([name, errors]) => `${name}: ${[].concat(errors).join(" ")}`).join("; ");
}

async function save(changes, done) {
  status.textContent = "Saving…";
  saveButton.disabled = true;
  reviewed.disabled = true;
  try {
    const response = await fetch(form.dataset.api, {
      method: "PATCH",
      credentials: "same-origin",
      headers: { Accept: "application/json", "Content-Type": "application/json", "X-CSRFToken": csrfToken },
      body: JSON.stringify(changes),
    });
    const body = await response.json().catch(() => null);
    if (!response.ok) {
      status.textContent = `Not saved (${response.status}). ${problemText(body)}`;
      return;
    }
    // The answer is the stored event: show what the server kept.
    reviewed.checked = body.reviewed;
    if ("notes" in changes) notes.value = body.notes;
    status.textContent = `${done(body)} at ${timeFormat.format(new Date())}.`;
  } catch {
    status.textContent = "Not saved: the server could not be reached. Try again.";
  } finally {
    saveButton.disabled = false;
    reviewed.disabled = false;
  }
}

reviewed.addEventListener("change", () => {
  // Ticking the box is a complete action: it is saved at once, the notes stay as typed.
  save({ reviewed: reviewed.checked }, (event) => (event.reviewed ? "Marked reviewed" : "Marked not reviewed"));
});

form.addEventListener("submit", (event) => {
  event.preventDefault();
  save({ reviewed: reviewed.checked, notes: notes.value }, () => "Review saved");
});
