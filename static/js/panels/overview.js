// The overview panel: every layer and head of the tab on show as thumbnails, each head badged
// with its role once the model's head roles have come, and the legend of those roles.
// Clicking a thumbnail opens it in the focused views.

import { combinedEntry } from "../options.js";
import { drawOverview } from "../overview.js";
import { drawLegend } from "../roles.js";
import { currentGroup, rolesKey, viewHead } from "../state.js";

const $ = (id) => document.getElementById(id);

export const watches = ["result", "group", "layer", "head", "roles"];

let store = null;

export function bind(pageStore) {
  store = pageStore;
}

function open(layer, head) {
  store.set({ layer, head });
  $("heatmap").scrollIntoView({ behavior: "smooth", block: "nearest" });
}

export function render(state) {
  if (!state.result) return;
  const group = currentGroup(state);
  const combined = combinedEntry(state.result.body.options);
  $("overview-caption").textContent = combined
    ? `One thumbnail per layer: each block is already one matrix (${combined}), scaled to its own maximum. Click one to open it above.`
    : "Each thumbnail is one head, scaled to its own maximum; its letter is the head's role. Click one to open it above.";
  // The roles of this run's model, if they are the ones asked for last.
  const roles = state.roles?.key === rolesKey(state.result.request) ? state.roles : null;
  drawLegend($("roles-legend"), roles, new Set(group.blocks.map((b) => b.name)), Boolean(combined));
  const selected = { layer: state.layer, head: viewHead(state) };
  drawOverview($("overview"), group.blocks, selected, open, {
    combined,
    roles: roles?.state === "ready" ? roles.lookup : null,
  });
}
