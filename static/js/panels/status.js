// The run's status line, the page's error, and the notice of what a link asked for that cannot
// be shown (and what is shown instead), one line each.

import { el } from "../text.js";

const $ = (id) => document.getElementById(id);

export const watches = ["busy", "status", "error", "notice"];

export function render({ busy, status, error, notice }) {
  $("run").disabled = busy;
  $("results").setAttribute("aria-busy", String(busy));
  $("status").textContent = status;
  $("status").classList.toggle("busy", busy);
  $("error").textContent = error;
  $("error").hidden = !error;
  $("link-notice").replaceChildren(el("b", { text: "From the link: " }), notice.join("\n"));
  $("link-notice").hidden = !notice.length;
}
