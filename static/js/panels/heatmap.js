// The focused heatmap panel: the block, layer and head on show (shown.js fetched it), with
// the alignment links marked and, while a query is opened step by step, its row outlined.
// Clicking a row opens that query step by step.

import { MEAN, listName } from "../blocks.js";
import { drawHeatmap } from "../heatmap.js";
import { stepStack, viewHead } from "../state.js";
import { openQuery } from "./steps.js";

const $ = (id) => document.getElementById(id);

export const watches = ["shown", "query"];

let store = null;
let clicksBound = false;

export function bind(pageStore) {
  store = pageStore;
}

// Plotly attaches its event emitter to the div on the first draw; bound once, after it.
function bindClicks() {
  if (clicksBound) return;
  clicksBound = true;
  $("heatmap").on("plotly_click", (event) => {
    if (stepStack(store.state)) openQuery(store, event.points[0].y);
  });
}

export function render(state) {
  const { shown } = state;
  if (!shown) return;
  const { block } = shown;
  drawHeatmap($("heatmap"), {
    marks: shown.alignment?.marks ?? null,
    z: shown.z,
    rowTokens: shown.rowTokens,
    colTokens: shown.colTokens,
    rowTitle: `query (${listName(block.rows)})`,
    colTitle: `key (${listName(block.cols)})`,
    rowTotals: shown.rowTotals,
    highlightRow: stepStack(state) && viewHead(state) !== MEAN ? state.query : null,
    hoverLine: $("heatmap-hover"),
  });
  bindClicks();
  Object.assign($("heatmap").dataset, {
    layer: String(shown.layer),
    head: String(shown.entry),
    block: block.name,
    options: shown.optionsKey,
  });
}
