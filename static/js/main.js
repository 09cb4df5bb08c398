// Wires the page: the store, the panels that draw it, the controls that change it, and the
// address bar. Each panel redraws when a field it watches changes.

import { followView, openLink } from "./address.js";
import { fetchModels } from "./api.js";
import { NO_TEXT, typedText } from "./form.js";
import { startGeneration } from "./generation.js";
import { emptyView } from "./permalink.js";
import { readOptions } from "./options.js";
import { applyOptions, cancelRun, chooseModel, run } from "./runs.js";
import { copyLink, writeLink } from "./share.js";
import * as shown from "./shown.js";
import { initialState, settle } from "./state.js";
import { createStore, touched } from "./store.js";
import { el } from "./text.js";
import * as alignment from "./panels/alignment.js";
import * as compare from "./panels/compare.js";
import * as downloads from "./panels/downloads.js";
import * as heatmap from "./panels/heatmap.js";
import * as lines from "./panels/lines.js";
import * as overview from "./panels/overview.js";
import * as pair from "./panels/pair.js";
import * as results from "./panels/results.js";
import * as status from "./panels/status.js";
import * as steps from "./panels/steps.js";
import * as timeline from "./panels/timeline.js";

const $ = (id) => document.getElementById(id);

const store = createStore(initialState(), settle);

// The focused views' data is asked for first: drawing the overview takes a while.
store.subscribe((state, changed) => touched(changed, ...shown.watches) && shown.load(store));
const panels = [status, results, lines, heatmap, alignment, steps, compare, pair, overview, timeline];
for (const panel of panels) {
  store.subscribe((state, changed) => touched(changed, ...panel.watches) && panel.render(state));
}
followView(store);
for (const panel of [results, heatmap, alignment, steps, compare, pair, overview, timeline, downloads]) panel.bind(store);

function chooseOtherModel() {
  const model = store.state.models.get($("model").value);
  cancelRun(store); // a run of the previous model would land on this one
  // Another model: its first run opens on its default tab.
  store.set({ result: null, latest: null, wanted: null, pair: null, group: null, error: "", notice: [] });
  chooseModel(store, model);
  // Another model is a new page state: Back returns to the run before it.
  writeLink({ ...emptyView(), model: model.id, options: readOptions($("options")) }, "push");
}

function generate() {
  const { model } = store.state;
  const text = typedText();
  if (text === null) store.set({ error: NO_TEXT });
  if (!model || text === null) return;
  store.set({ error: "" });
  startGeneration(store, model, text);
}

function bindControls() {
  $("run-form").addEventListener("submit", (e) => {
    e.preventDefault();
    run(store);
  });
  $("text").addEventListener("keydown", (e) => {
    if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) run(store);
  });
  $("model").addEventListener("change", chooseOtherModel);
  $("options").addEventListener("change", () => applyOptions(store));
  $("generate").addEventListener("click", generate);
  $("copy-link").addEventListener("click", () => copyLink($("link-status"), $("link-field")));
  window.addEventListener("popstate", () => openLink(store));
}

async function start() {
  bindControls();
  try {
    const models = await fetchModels();
    store.set({ models: new Map(models.map((model) => [model.id, model])) });
    $("model").replaceChildren(...models.map((m) => el("option", { value: m.id, text: `${m.name} (${m.id})` })));
    if (!models.length) {
      store.set({ error: "This server offers no models. Check its log for models that failed to load." });
      return;
    }
    if (location.search || location.hash) await openLink(store);
    else chooseModel(store, models[0]);
    document.body.dataset.ready = "true";
  } catch (error) {
    store.set({ error: error.message });
  }
}

start();
