// The step-by-step panel: one query of one head of a self-attention block, computed on the
// model's raw weights (POST /api/v1/explain): q, K, V, the scores, their scaling, the softmax
// and the weighted sum of values.

import { MEAN } from "../blocks.js";
import { explainQuery } from "../data.js";
import { Lane, superseded } from "../lane.js";
import { renderSteps } from "../steps.js";
import { shownBlock, stepStack } from "../state.js";
import { el } from "../text.js";

const $ = (id) => document.getElementById(id);

export const watches = ["result", "group", "layer", "head", "query"];

const explaining = new Lane();
let store = null;

export function bind(pageStore) {
  store = pageStore;
}

// Opens query row `index`; the mean over heads has no step by step, so its first head opens.
export function openQuery(pageStore, index) {
  const { state } = pageStore;
  pageStore.set({ query: index, head: state.head === MEAN ? shownBlock(state).heads[0] : state.head });
}

function clear(intro) {
  explaining.cancel();
  $("steps-intro").textContent = intro;
  $("steps").replaceChildren();
}

export function render(state) {
  if (!state.result) return;
  const stack = stepStack(state);
  $("steps-panel").hidden = !state.result.model.explainable;
  if (!stack) {
    clear(
      "The step-by-step view opens one head on the model's raw weights: choose a self-attention tab and the raw view (tokens, keep special tokens, each head, attention weights).",
    );
    $("query-chips").replaceChildren();
    return;
  }
  const rowTokens = state.result.body.tokens[shownBlock(state).rows];
  const chips = rowTokens.map((token, i) => {
    const chip = el("button", {
      type: "button",
      className: i === state.query ? "chip selected" : "chip",
      text: token,
      title: `query ${i}`,
      dataset: { query: String(i) },
    });
    chip.addEventListener("click", () => openQuery(store, i));
    return chip;
  });
  $("query-chips").replaceChildren(...chips);
  if (state.head === MEAN) {
    clear("Choose one head (not the mean) to compute its attention step by step.");
    return;
  }
  const intro = `Click a query token (or a row of the heatmap) to see how layer ${state.layer}, head ${state.head} computes its attention.`;
  if (state.query == null) {
    clear(intro);
    return;
  }
  $("steps-intro").textContent = intro;
  const { request } = state.result;
  const payload = {
    model: request.model,
    text: request.text,
    ...(request.target ? { target: request.target } : {}),
    ...(request.variant ? { variant: request.variant } : {}),
    stack,
    layer: state.layer,
    head: state.head,
    query: state.query,
  };
  explaining.run((signal) => explainQuery(payload, signal)).then(
    (data) => renderSteps($("steps"), data),
    (error) => superseded(error) || store.set({ error: error.message }),
  );
}
