// Progressive enhancement for the agentgate web client. Every page works without it.
"use strict";

// Show times in the reader's time zone (the server renders UTC).
const FORMATS = {
  time: { hour: "2-digit", minute: "2-digit" },
  date: { weekday: "short", day: "numeric", month: "short", year: "numeric" },
  datetime: { day: "numeric", month: "short", hour: "2-digit", minute: "2-digit" },
};
for (const el of document.querySelectorAll("time[datetime][data-style]")) {
  const when = new Date(el.getAttribute("datetime"));
  const format = FORMATS[el.dataset.style];
  if (!Number.isNaN(when.getTime()) && format) {
    el.textContent = new Intl.DateTimeFormat(undefined, format).format(when);
    el.title = when.toLocaleString();
  }
}

// In the composer, Enter sends and Shift+Enter starts a new line.
for (const box of document.querySelectorAll("textarea[data-submit-on-enter]")) {
  box.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      if (box.value.trim()) box.form.requestSubmit();
    }
  });
}

// On the narrow form, unticking one channel means "only these": untick "every one" too.
for (const fieldset of document.querySelectorAll("fieldset[data-constraint]")) {
  const every = fieldset.querySelector("input[data-every]");
  if (!every) continue;
  for (const box of fieldset.querySelectorAll("input[type=checkbox]:not([data-every])")) {
    box.addEventListener("change", () => { if (!box.checked) every.checked = false; });
  }
}
