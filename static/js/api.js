// The REST API from the pages: JSON reads, and the buttons whose forms also work without JavaScript.

export const csrfToken = document.querySelector("input[name=csrfmiddlewaretoken]")?.value ?? "";

export async function getJson(url) {
  const response = await fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" });
  if (!response.ok) throw new Error(`${url}: ${response.status}`);
  return response.json();
}

/** The rows of a list answer, paginated or not. */
export const rows = (page) => page.results ?? page;

/**
 * A form with `data-api` POSTs there instead, and `onAnswer(response)` applies the answer; the
 * form's own POST (a page of ours that redirects back) is the fallback without JavaScript, and
 * when the request cannot be sent at all.
 */
export function submitFormsToApi(onAnswer) {
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
    await onAnswer(response);
  });
}
