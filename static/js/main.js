// Wires the page: pick a model, run it on a sentence, then browse kinds, layers and heads.

import { drawAlignment } from "./alignment.js";
import { fetchAttention, fetchExplain, fetchModels } from "./api.js";
import { MEAN, fromWire, kindsPresent, matrix } from "./blocks.js";
import { drawHeatmap } from "./heatmap.js";
import { drawOverview } from "./overview.js";
import { renderSteps } from "./steps.js";
import { el } from "./text.js";

const $ = (id) => document.getElementById(id);

// The overview comes pooled to this many rows and columns, one byte a weight; the heatmap
// fetches its layer at full resolution in half floats (the run is cached server-side).
const THUMBNAIL_SIZE = 48;

const state = {
  models: new Map(),
  result: null, // { body, blocks (pooled), kinds, request, model, focus: Map layer -> blocks }
  query: null, // the query row opened step by step
  kind: null,
  layer: 0,
  head: MEAN,
  inFlight: null,
};

const TARGET_HINTS = {
  decoder: "Appended to the text and forced through the model. Leave empty to let it generate.",
  "encoder-decoder": "Your translation: the model is forced to read it, so you see its alignment. Leave empty to let the model translate.",
};

function currentModel() {
  return state.models.get($("model").value);
}

function showError(message) {
  $("error").textContent = message;
  $("error").hidden = !message;
}

function setBusy(busy, message = "") {
  $("run").disabled = busy;
  $("results").setAttribute("aria-busy", String(busy));
  $("status").textContent = message;
  $("status").classList.toggle("busy", busy);
}

function fillExamples(model) {
  const chips = model.examples.map((example) => {
    const label = example.target ? `${example.text} → ${example.target}` : example.text;
    const chip = el("button", { type: "button", className: "chip", text: label });
    chip.addEventListener("click", () => {
      $("text").value = example.text;
      $("target").value = example.target ?? "";
      run();
    });
    return chip;
  });
  $("examples").replaceChildren(...chips);
}

function selectModel(model, { keepText = false } = {}) {
  $("model-description").textContent = model.description;
  const count = (n, word) => `${n} ${word}${n === 1 ? "" : "s"}`;
  $("model-facts").textContent = `${model.family} · ${count(model.layers, "layer")} × ${count(model.heads, "head")} · up to ${count(model.max_tokens, "token")} · ${model.languages.join(", ")}`;
  const hasVariants = model.variants.length > 0;
  $("variant").hidden = !hasVariants;
  $("variant-label").hidden = !hasVariants;
  $("variant").replaceChildren(
    ...model.variants.map((v) => el("option", { value: v, text: v, selected: v === model.default_variant })),
  );
  const takesTarget = model.family !== "encoder";
  $("target-row").hidden = !takesTarget;
  $("target-hint").textContent = TARGET_HINTS[model.family] ?? "";
  $("target-label").textContent = model.family === "encoder-decoder" ? "Your translation (optional)" : "Continuation (optional)";
  if (!keepText) {
    $("text").value = model.examples[0]?.text ?? "";
    $("target").value = model.examples[0]?.target ?? "";
  }
  fillExamples(model);
}

async function run() {
  const model = currentModel();
  if (!model) return;
  const text = $("text").value;
  if (!text.trim()) {
    showError("Type a sentence first.");
    return;
  }
  state.inFlight?.abort();
  const controller = new AbortController();
  state.inFlight = controller;
  showError("");
  setBusy(true, `Running ${model.name}…`);
  const payload = { model: model.id, text };
  const target = $("target").value;
  if (!$("target-row").hidden && target.trim()) payload.target = target;
  if (model.variants.length) payload.variant = $("variant").value;
  try {
    const body = await fetchAttention(
      { ...payload, encoding: "uint8", max_size: THUMBNAIL_SIZE },
      controller.signal,
    );
    const blocks = body.blocks.map(fromWire);
    state.result = { body, blocks, kinds: kindsPresent(blocks), request: payload, model, focus: new Map() };
    state.query = null;
    const kinds = state.result.kinds.map((k) => k.key);
    // Cross-attention is the alignment, the picture a translator's user came for.
    if (!kinds.includes(state.kind)) state.kind = kinds.includes("decoder.cross_attn") ? "decoder.cross_attn" : kinds[0];
    setBusy(false, `${model.name}: ${blocks.length} blocks`);
    render();
  } catch (error) {
    if (error.name === "AbortError") return;
    setBusy(false);
    showError(error.message);
  } finally {
    if (state.inFlight === controller) state.inFlight = null;
  }
}

// The full-resolution blocks of one layer (all kinds, all heads), fetched once per result.
function focusBlocks(layer) {
  const { focus, request } = state.result;
  if (!focus.has(layer)) {
    const pending = fetchAttention({ ...request, layers: [layer], encoding: "float16" }).then(
      (body) => body.blocks.map(fromWire),
    );
    pending.catch(() => focus.delete(layer));
    focus.set(layer, pending);
  }
  return focus.get(layer);
}

function blocksOfKind() {
  return state.result.blocks.filter((b) => b.kindKey === state.kind);
}

function renderTabs() {
  const tabs = state.result.kinds.map((kind) => {
    const tab = el("button", {
      type: "button",
      role: "tab",
      className: "tab",
      text: kind.label,
      ariaSelected: String(kind.key === state.kind),
    });
    tab.addEventListener("click", () => {
      state.kind = kind.key;
      render();
    });
    return tab;
  });
  $("kind-tabs").replaceChildren(...tabs);
}

function renderSelectors(blocks) {
  const layers = blocks.map((b) => b.layer);
  if (!layers.includes(state.layer)) state.layer = layers[0];
  $("layer").replaceChildren(
    ...layers.map((layer) => el("option", { value: String(layer), text: String(layer), selected: layer === state.layer })),
  );
  const heads = blocks.find((b) => b.layer === state.layer).heads;
  if (state.head !== MEAN && !heads.includes(state.head)) state.head = MEAN;
  $("head").replaceChildren(
    el("option", { value: MEAN, text: "mean over heads", selected: state.head === MEAN }),
    ...heads.map((head) => el("option", { value: String(head), text: String(head), selected: head === state.head })),
  );
}

let renderTicket = 0;

async function renderHeatmap(kind, rowTokens, colTokens) {
  const ticket = ++renderTicket;
  const { result } = state;
  let layerBlocks;
  try {
    layerBlocks = await focusBlocks(state.layer);
  } catch (error) {
    showError(error.message);
    return;
  }
  // A newer render (another head, layer or run) has started meanwhile: leave it the stage.
  if (ticket !== renderTicket || result !== state.result) return;
  const block = layerBlocks.find((b) => b.kindKey === kind.key);
  const position = state.head === MEAN ? MEAN : block.heads.indexOf(state.head);
  const z = matrix(block, position);
  const isAlignment = kind.key === "decoder.cross_attn";
  $("alignment-panel").hidden = !isAlignment;
  if (isAlignment) drawAlignment($("alignment"), { z, sourceTokens: colTokens, targetTokens: rowTokens });
  drawHeatmap($("heatmap"), {
    z,
    rowTokens,
    colTokens,
    rowTitle: `query (${kind.rows.replace("_", " ")})`,
    colTitle: `key (${kind.cols.replace("_", " ")})`,
    highlightRow: stepStack() && state.head !== MEAN ? state.query : null,
  });
  bindHeatmapClicks();
  $("heatmap").dataset.layer = String(state.layer);
  $("heatmap").dataset.head = String(state.head);
  $("heatmap").dataset.kind = kind.key;
}

function render() {
  const { body, kinds } = state.result;
  $("results").hidden = false;
  const forced = body.output_text == null ? state.result.request.target : null;
  $("output").hidden = body.output_text == null && !forced;
  $("output-label").textContent = forced ? "Teacher-forced on your text:" : "Model output:";
  $("output-text").textContent = body.output_text ?? forced ?? "";
  renderTabs();
  const blocks = blocksOfKind();
  renderSelectors(blocks);
  const kind = kinds.find((k) => k.key === state.kind);
  const rowTokens = body.tokens[kind.rows];
  const colTokens = body.tokens[kind.cols];
  const headText = state.head === MEAN ? "mean over heads" : `head ${state.head}`;
  $("view-caption").textContent = `${kind.label}, layer ${state.layer}, ${headText}. Each row is a query and sums to 1.`;
  renderHeatmap(kind, rowTokens, colTokens);
  renderStepsPanel(rowTokens);
  renderComparePanel();
  drawOverview($("overview"), blocks, { layer: state.layer, head: state.head }, (layer, head) => {
    state.layer = layer;
    state.head = head;
    render();
    $("heatmap").scrollIntoView({ behavior: "smooth", block: "nearest" });
  });
}

// Variants of one model (Luong's scorers) side by side, on the same sentence: each draws its
// cross-attention for the layer shown above, the mean over heads.
function renderComparePanel() {
  const { model, request } = state.result;
  const variants = model.variants;
  $("compare-panel").hidden = variants.length < 2;
  if (variants.length < 2) return;
  $("compare").textContent = `Compare ${variants.join(", ")}`;
  $("compare-intro").textContent = request.target
    ? `Each variant reads your translation “${request.target}”, so the rows line up.`
    : "Each variant writes its own translation. Type your translation above to compare them on the same words.";
}

async function compareVariants() {
  const { model, request } = state.result;
  const result = state.result;
  $("compare").disabled = true;
  const cells = model.variants.map((variant) => el("div", { className: "compare-cell", dataset: { variant } }));
  $("compare-grid").replaceChildren(...cells);
  try {
    const bodies = await Promise.all(
      model.variants.map((variant) => fetchAttention({ ...request, variant, encoding: "float16" })),
    );
    if (result !== state.result) return;
    bodies.forEach((body, i) => {
      const block = body.blocks.map(fromWire).find((b) => b.kindKey === "decoder.cross_attn");
      const said = body.output_text ?? request.target;
      drawHeatmap(cells[i], {
        z: matrix(block, MEAN),
        rowTokens: body.tokens.target,
        colTokens: body.tokens.source,
        rowTitle: "target",
        colTitle: "source",
        title: `${body.variant}: ${said}`,
        compact: true,
      });
    });
  } catch (error) {
    showError(error.message);
  } finally {
    $("compare").disabled = false;
  }
}

// The stack whose self-attention can be opened step by step in the current view, if any.
function stepStack() {
  if (!state.result?.model.explainable) return null;
  if (state.kind === "encoder.self_attn") return "encoder";
  if (state.kind === "decoder.self_attn") return "decoder";
  return null;
}

let stepsRequest = 0;

async function renderStepsPanel(rowTokens) {
  const stack = stepStack();
  $("steps-panel").hidden = !state.result.model.explainable;
  if (!stack) {
    $("steps-intro").textContent = "The step-by-step view opens self-attention: choose a self-attention tab.";
    $("query-chips").replaceChildren();
    $("steps").replaceChildren();
    return;
  }
  const chips = rowTokens.map((token, i) => {
    const chip = el("button", {
      type: "button",
      className: i === state.query ? "chip selected" : "chip",
      text: token,
      title: `query ${i}`,
      dataset: { query: String(i) },
    });
    chip.addEventListener("click", () => openQuery(i));
    return chip;
  });
  $("query-chips").replaceChildren(...chips);
  if (state.head === MEAN) {
    $("steps-intro").textContent = "Choose one head (not the mean) to compute its attention step by step.";
    $("steps").replaceChildren();
    return;
  }
  $("steps-intro").textContent = `Click a query token (or a row of the heatmap) to see how layer ${state.layer}, head ${state.head} computes its attention.`;
  if (state.query == null) {
    $("steps").replaceChildren();
    return;
  }
  const ticket = ++stepsRequest;
  const { request } = state.result;
  try {
    const data = await fetchExplain({
      model: request.model,
      text: request.text,
      ...(request.target ? { target: request.target } : {}),
      ...(request.variant ? { variant: request.variant } : {}),
      stack,
      layer: state.layer,
      head: state.head,
      query: state.query,
    });
    if (ticket === stepsRequest) renderSteps($("steps"), data);
  } catch (error) {
    if (ticket === stepsRequest) showError(error.message);
  }
}

function openQuery(index) {
  state.query = index;
  if (state.head === MEAN) state.head = state.result.blocks.find((b) => b.kindKey === state.kind).heads[0];
  render();
}

// Plotly attaches its event emitter to the div on the first draw; bind once, after it.
let heatmapClicksBound = false;

function bindHeatmapClicks() {
  if (heatmapClicksBound) return;
  heatmapClicksBound = true;
  $("heatmap").on("plotly_click", (event) => {
    if (stepStack()) openQuery(event.points[0].y);
  });
}

async function start() {
  $("layer").addEventListener("change", (e) => {
    state.layer = Number(e.target.value);
    render();
  });
  $("head").addEventListener("change", (e) => {
    state.head = e.target.value === MEAN ? MEAN : Number(e.target.value);
    render();
  });
  $("compare").addEventListener("click", compareVariants);
  $("run-form").addEventListener("submit", (e) => {
    e.preventDefault();
    run();
  });
  $("text").addEventListener("keydown", (e) => {
    if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) run();
  });
  $("model").addEventListener("change", () => {
    state.result = null;
    $("results").hidden = true;
    showError("");
    selectModel(currentModel());
  });
  try {
    const models = await fetchModels();
    for (const model of models) state.models.set(model.id, model);
    $("model").replaceChildren(...models.map((m) => el("option", { value: m.id, text: `${m.name} (${m.id})` })));
    if (!models.length) {
      showError("This server offers no models. Check its log for models that failed to load.");
      return;
    }
    selectModel(models[0]);
    document.body.dataset.ready = "true";
  } catch (error) {
    showError(error.message);
  }
}

start();
