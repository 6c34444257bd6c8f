// Progressive enhancement for the Conveyor console: every page works without this file.
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  // A form that came back with errors: move the keyboard to the list of problems.
  const summary = document.querySelector("[data-focus]");
  if (summary) summary.focus();

  // Ask before doing something that cannot be undone (cancelling a batch).
  document.addEventListener("submit", (event) => {
    const form = event.target;
    if (form instanceof HTMLFormElement && form.dataset.confirm && !window.confirm(form.dataset.confirm)) {
      event.preventDefault();
    }
  });

  // Step 5: a restaurant whose settings the operator changes is ticked to be configured.
  for (const card of document.querySelectorAll("[data-config]")) {
    const tick = card.querySelector("[data-configure]");
    card.addEventListener("change", (event) => {
      if (tick && event.target !== tick) tick.checked = true;
    });
    card.addEventListener("input", (event) => {
      if (tick && event.target instanceof HTMLInputElement && event.target.type !== "checkbox") tick.checked = true;
    });
  }

  // A batch page: the batch's event stream says when progress changed; the changing part
  // of the page is then fetched again (at most one fetch at a time).
  const live = document.querySelector("[data-live]");
  if (live && window.EventSource) {
    const source = new EventSource(live.dataset.events);
    let fetching = false;
    let again = false;
    const refresh = async () => {
      if (fetching) { again = true; return; }
      fetching = true;
      try {
        const response = await fetch(live.dataset.fragment, { credentials: "same-origin" });
        if (response.redirected || response.status === 401) { window.location.reload(); return; }
        if (response.ok) {
          const focused = document.activeElement && live.contains(document.activeElement) ? document.activeElement.id : null;
          live.innerHTML = await response.text();
          if (focused) document.getElementById(focused)?.focus();
        }
      } finally {
        fetching = false;
        if (again) { again = false; refresh(); }
      }
    };
    source.addEventListener("progress", (event) => {
      const progress = JSON.parse(event.data);
      refresh();
      if (progress.status !== "pending" && progress.status !== "in_progress") source.close();
    });
  }
});
