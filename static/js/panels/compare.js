// Variants of one model (Luong's scorers) side by side on the same sentence: each draws the
// block on show above (same name, layer and options), the mean over heads.

import { MEAN, matrix, listName } from "../blocks.js";
import { variantLayer } from "../data.js";
import { drawHeatmap } from "../heatmap.js";
import { Lane, superseded } from "../lane.js";
import { shownBlock } from "../state.js";
import { el } from "../text.js";

const $ = (id) => document.getElementById(id);

export const watches = ["result", "group", "layer"];

const comparing = new Lane();
let store = null;
let drawnFor = null; // the run whose variants the grid shows

export function bind(pageStore) {
  store = pageStore;
  $("compare").addEventListener("click", compare);
}

async function compare() {
  const { state } = store;
  const { model, request, options } = state.result;
  const { name } = shownBlock(state);
  $("compare").disabled = true;
  const cells = model.variants.map((variant) => el("div", { className: "compare-cell", dataset: { variant } }));
  $("compare-grid").replaceChildren(...cells);
  try {
    const bodies = await comparing.run(() =>
      Promise.all(model.variants.map((variant) => variantLayer(request, options, variant, state.layer))),
    );
    bodies.forEach((body, i) => {
      const block = body.blocks.find((b) => b.name === name);
      const said = body.output_text ?? request.target;
      drawHeatmap(cells[i], {
        z: matrix(block, MEAN),
        rowTokens: body.tokens[block.rows],
        colTokens: body.tokens[block.cols],
        rowTitle: listName(block.rows),
        colTitle: listName(block.cols),
        title: `${body.variant}: ${said}`,
        compact: true,
      });
    });
  } catch (error) {
    if (!superseded(error)) store.set({ error: error.message });
  } finally {
    $("compare").disabled = false;
  }
}

export function render(state) {
  if (!state.result) return;
  if (state.result !== drawnFor) {
    // Another run: the variants of the last one no longer apply.
    drawnFor = state.result;
    comparing.cancel();
    $("compare-grid").replaceChildren();
  }
  const { model, request } = state.result;
  const { variants } = model;
  $("compare-panel").hidden = variants.length < 2;
  if (variants.length < 2) return;
  $("compare").textContent = `Compare ${variants.join(", ")}`;
  const shown = `Each variant draws ${state.group}, layer ${state.layer}, with the options above.`;
  $("compare-intro").textContent = request.target
    ? `${shown} Each reads your translation “${request.target}”, so the rows line up.`
    : `${shown} Each writes its own translation. Type your translation above to compare them on the same words.`;
}
