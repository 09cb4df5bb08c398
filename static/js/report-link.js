// The "Download report" link: GET /api/v1/report for the run the controls describe (model,
// variant, text, translation or continuation, analysis options), a standalone HTML file. It
// reads the controls only, so it keeps in step by listening to their events and updates once
// more as it is followed (main.js fills some fields from code, which fires no event).

import { DEFAULT_OPTIONS, readOptions } from "./options.js";

const $ = (id) => document.getElementById(id);
const link = $("report-link");

function reportHref() {
  const params = new URLSearchParams({ model: $("model").value, text: $("text").value });
  if (!$("variant").hidden && $("variant").value) params.set("variant", $("variant").value);
  const target = $("target").value;
  if (!$("target-row").hidden && target.trim()) params.set("target", target);
  for (const [name, value] of Object.entries(readOptions($("options")))) {
    if (value !== DEFAULT_OPTIONS[name]) params.set(name, value);
  }
  return `/api/v1/report?${params}`;
}

function update() {
  const ready = Boolean($("model").value && $("text").value.trim());
  link.hidden = !ready;
  if (ready) link.href = reportHref();
}

for (const form of [$("run-form"), $("options")]) {
  for (const type of ["input", "change", "click", "submit"]) form.addEventListener(type, update);
}
link.addEventListener("click", update); // runs before the browser follows the link
new MutationObserver(update).observe(document.body, { attributes: true, attributeFilter: ["data-ready"] });
