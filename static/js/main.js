// Wires the page: pick a model, run it on a sentence, then browse its blocks, layers and
// heads under the analysis options. Every block says how to label itself (label, rows, cols),
// so nothing here knows one kind of attention from another.

import { alignmentMarks, alignmentShown, bindAlignment, resetAlignment } from "./alignment.js";
import { fetchAttention, fetchExplain, fetchHeadRoles, fetchModels } from "./api.js";
import { MEAN, fromWire, groupByLabel, listName, matrix, rowTotals } from "./blocks.js";
import {
  bindExportBar,
  fileName,
  linesPng,
  linesSvg,
  overviewJson,
  overviewPng,
  overviewSvg,
  plotImage,
  viewCsv,
  viewJson,
} from "./exports.js";
import { drawHeatmap } from "./heatmap.js";
import { drawLines } from "./lines.js";
import { combinedEntry, describeOptions, offerOptions, readOptions, writeOptions } from "./options.js";
import { drawOverview } from "./overview.js";
import { clearPair, drawPair } from "./pair.js";
import { checkView, emptyView, readLink, resolveView, tabKey } from "./permalink.js";
import { copyLink, forgetPendingLinks, writeLink } from "./share.js";
import { drawLegend, roleLookup } from "./roles.js";
import { renderSteps } from "./steps.js";
import { el } from "./text.js";
import { bindTimeline, cancelGeneration, offerTimeline, startGeneration } from "./timeline.js";

const $ = (id) => document.getElementById(id);

// The overview comes pooled to this many rows and columns, one byte a weight; the heatmap
// fetches its layer at full resolution in half floats (the run is cached server-side).
const THUMBNAIL_SIZE = 48;
const FOCUS_LAYER_LIMIT = 4_000_000; // weights in one layer fetched at once; see focusBlocks

const state = {
  models: new Map(),
  // { body, blocks (pooled), groups, request (the run), options, model, focus: Map layer -> blocks,
  //   linkMode: how its next drawing writes the address, "push" (a new run) or "replace" }
  result: null,
  // { model, request, history }: the run last asked for, which option changes re-fetch;
  // history stays "push" until that run is drawn, so an option changed meanwhile keeps the
  // new run's own history entry.
  latest: null,
  wanted: null, // { tab, layer, head } a link asks for, applied when its run arrives
  pair: null, // { text, target } of text B while two texts are compared
  shown: null, // what the heatmap draws, for its downloads (see renderHeatmap)
  query: null, // the query row opened step by step
  group: null, // the label of the blocks shown: one tab per label
  layer: 0,
  head: MEAN,
  inFlight: null,
  // "model|variant" -> { state: "loading" | "ready" | "failed", body, lookup, error }: each
  // model's head roles, fetched once, after its first run is drawn.
  roles: new Map(),
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

// What a link asked for that cannot be shown, and what is shown instead: one line each.
// `add` keeps the lines already there (the tab and layer are checked after the run arrives).
let noticeLines = [];

function showNotice(problems, { add = false } = {}) {
  noticeLines = add ? [...noticeLines, ...problems] : problems;
  $("link-notice").replaceChildren(el("b", { text: "From the link: " }), noticeLines.join("\n"));
  $("link-notice").hidden = !noticeLines.length;
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
  $("pair-target-row").hidden = !takesTarget;
  $("target-hint").textContent = TARGET_HINTS[model.family] ?? "";
  const targetName = model.family === "encoder-decoder" ? "Your translation" : "Continuation";
  $("target-label").textContent = `${targetName} (optional)`;
  $("pair-target-label").textContent = `${targetName} for B (optional)`;
  if (!keepText) {
    $("text").value = model.examples[0]?.text ?? "";
    $("target").value = model.examples[0]?.target ?? "";
  }
  fillExamples(model);
  offerOptions($("options"), model);
  offerTimeline(model);
}

// The text typed, or null (and a message) when there is none.
function typedText() {
  const text = $("text").value;
  if (text.trim()) return text;
  showError("Type a sentence first.");
  return null;
}

// A run's request: the target only for a model that reads one, the variant only for a model
// that has them.
function runRequest(model, text, target, variant) {
  const request = { model: model.id, text };
  if (model.family !== "encoder" && target.trim()) request.target = target;
  if (model.variants.length) request.variant = variant;
  return request;
}

async function run() {
  const model = currentModel();
  if (!model) return;
  const text = typedText();
  if (text === null) return;
  cancelGeneration(); // a new run supersedes the timeline being written
  state.wanted = null;
  showNotice([]);
  const request = runRequest(model, text, $("target").value, $("variant").value);
  await load(model, request, `Running ${model.name}…`, "push");
}

// Fetches the overview of `request` (a run: model, text, target, variant) under the options
// the controls show. Changing an option loads the latest run's request again: the server
// keeps the run, so this is no second forward pass. `history`: how the drawn run writes the
// address, "push" for a new run, "replace" for a new view of one.
async function load(model, request, message, history = "replace") {
  const latest = { model, request, history };
  state.latest = latest;
  state.inFlight?.abort();
  const controller = new AbortController();
  state.inFlight = controller;
  const options = readOptions($("options"));
  showError("");
  setBusy(true, message);
  try {
    const body = await fetchAttention(
      { ...request, ...options, encoding: "uint8", max_size: THUMBNAIL_SIZE },
      controller.signal,
    );
    const blocks = body.blocks.map(fromWire);
    const groups = groupByLabel(blocks);
    state.result = { body, blocks, groups, request, options, model, focus: new Map(), linkMode: history };
    state.query = null;
    if (state.wanted) {
      applyWanted(state.wanted);
    } else if (!groups.some((g) => g.label === state.group)) {
      // Default to the last group the response lists: for a translator that is
      // cross-attention, the alignment its user came for.
      state.group = groups.at(-1).label;
    }
    latest.history = "replace";
    $("compare-grid").replaceChildren();
    setBusy(false, `${model.name}: ${blocks.length} blocks`);
    render();
    loadRoles(request);
  } catch (error) {
    if (error.name === "AbortError") return;
    state.wanted = null;
    setBusy(false);
    showError(error.message);
  } finally {
    if (state.inFlight === controller) state.inFlight = null;
  }
}

// The tab, layer and head a link asks for, on the result just arrived; what it lacks falls
// back to the defaults, and the notice says so.
function applyWanted(wanted) {
  const { label, layer, head, problems } = resolveView(state.result.groups, wanted);
  Object.assign(state, { group: label, layer, head, wanted: null, query: null });
  showNotice(problems, { add: true });
}

function rolesKey(request) {
  return `${request.model}|${request.variant ?? ""}`;
}

// Asked for only once a run is on screen: the server scores a model's heads on the same
// inference queue as runs (a few seconds for SmolLM2, the first time), so asking earlier would
// hold up the first heatmap. When the roles come, only the overview is drawn again.
function loadRoles(request) {
  const key = rolesKey(request);
  if (state.roles.has(key)) return;
  const status = { state: "loading" };
  state.roles.set(key, status);
  fetchHeadRoles(request.model, request.variant)
    .then((body) => Object.assign(status, { state: "ready", body, lookup: roleLookup(body) }))
    .catch((error) => {
      Object.assign(status, { state: "failed", error: error.message });
      state.roles.delete(key); // the next run of this model asks again
    })
    .finally(() => {
      if (state.result && rolesKey(state.result.request) === key) renderOverview(status);
    });
}

// The full-resolution blocks of one layer (every group, every head), fetched once per result.
// A layer of a long run is fetched one head at a time, or as the server's head mean: every
// head of a 2048-token SmolLM2 layer is 9 × 2048² weights, 75 MB as half floats.
function focusBlocks(layer, head) {
  const { focus, request, options, blocks } = state.result;
  const weights = Math.max(
    ...blocks.filter((b) => b.layer === layer).map((b) => (b.pooled_from ?? b.shape).reduce((a, c) => a * c, 1)),
  );
  const whole = weights <= FOCUS_LAYER_LIMIT || combinedEntry(options);
  const key = whole ? String(layer) : `${layer}/${head}`;
  if (!focus.has(key)) {
    const cut = whole ? {} : head === MEAN ? { aggregate: "heads" } : { heads: [head] };
    const pending = fetchAttention({ ...request, ...options, ...cut, layers: [layer], encoding: "float16" }).then(
      (body) => body.blocks.map(fromWire),
    );
    pending.catch(() => focus.delete(key));
    focus.set(key, pending);
  }
  return focus.get(key);
}

function currentGroup() {
  return state.result.groups.find((g) => g.label === state.group);
}

// The block on show in the overview response: its flags (explainable) and name.
function shownBlock() {
  return currentGroup().blocks.find((b) => b.layer === state.layer);
}

// The head the view draws: under a combined aggregate each block has one entry.
function viewHead() {
  return combinedEntry(state.result.body.options) ? MEAN : state.head;
}

function renderTabs() {
  const tabs = state.result.groups.map((group) => {
    const tab = el("button", {
      type: "button",
      role: "tab",
      className: "tab",
      text: group.label,
      ariaSelected: String(group.label === state.group),
    });
    tab.addEventListener("click", () => {
      state.group = group.label;
      state.query = null;
      render();
    });
    return tab;
  });
  $("block-tabs").replaceChildren(...tabs);
}

function renderSelectors(blocks) {
  const layers = blocks.map((b) => b.layer);
  if (!layers.includes(state.layer)) state.layer = layers[0];
  $("layer").replaceChildren(
    ...layers.map((layer) => el("option", { value: String(layer), text: String(layer), selected: layer === state.layer })),
  );
  const combined = combinedEntry(state.result.body.options);
  const select = $("head");
  select.disabled = Boolean(combined);
  if (combined) {
    select.title = "The heads are already combined (see Combine heads): choose “each head” to pick one.";
    select.replaceChildren(el("option", { value: MEAN, text: combined, selected: true }));
    return;
  }
  select.title = "";
  const heads = blocks.find((b) => b.layer === state.layer).heads;
  if (state.head !== MEAN && !heads.includes(state.head)) state.head = MEAN;
  select.replaceChildren(
    el("option", { value: MEAN, text: "mean over heads", selected: state.head === MEAN }),
    ...heads.map((head) => el("option", { value: String(head), text: String(head), selected: head === state.head })),
  );
}

let renderTicket = 0;

function optionsKey(options) {
  return [options.granularity, options.special_tokens, options.aggregate, options.weighting].join("/");
}

async function renderHeatmap(group) {
  const ticket = ++renderTicket;
  state.shown = null;
  const { result } = state;
  let layerBlocks;
  try {
    layerBlocks = await focusBlocks(state.layer, viewHead());
  } catch (error) {
    showError(error.message);
    return;
  }
  // A newer render (another head, layer, option or run) has started meanwhile: leave it the stage.
  if (ticket !== renderTicket || result !== state.result) return;
  const block = layerBlocks.find((b) => b.label === group.label);
  const head = viewHead();
  const position = head === MEAN ? MEAN : block.heads.indexOf(head);
  const z = matrix(block, position);
  const { tokens, options } = result.body;
  const rowTokens = tokens[block.rows];
  const colTokens = tokens[block.cols];
  const shown = {
    model: result.request.model,
    variant: result.request.variant,
    text: result.request.text,
    target: result.request.target,
    tab: group.label,
    block,
    layer: state.layer,
    head: head !== MEAN ? head : options.aggregate === "rollout" ? "rollout" : "mean",
    options: result.options,
    z,
    rowTokens,
    colTokens,
    rowTotals: rowTotals(block, position),
  };
  // A translator's cross-attention: the links it implies, marked on both views.
  let marks = null;
  if (alignmentShown(block)) {
    marks = await alignmentMarks(shown, result.body);
    if (ticket !== renderTicket || result !== state.result) return;
  } else {
    resetAlignment();
  }
  state.shown = shown;
  drawLines($("lines"), { z, rowTokens, colTokens, rowsName: block.rows, colsName: block.cols, links: marks });
  drawHeatmap($("heatmap"), {
    marks,
    z,
    rowTokens,
    colTokens,
    rowTitle: `query (${listName(block.rows)})`,
    colTitle: `key (${listName(block.cols)})`,
    rowTotals: rowTotals(block, position),
    highlightRow: stepStack() && head !== MEAN ? state.query : null,
    hoverLine: $("heatmap-hover"),
  });
  bindHeatmapClicks();
  for (const view of [$("heatmap"), $("lines")]) {
    Object.assign(view.dataset, {
      layer: String(state.layer),
      head: String(head),
      block: block.name,
      options: optionsKey(options),
    });
  }
}

function viewCaption(group, options) {
  let entry = state.head === MEAN ? "mean over heads" : `head ${state.head}`;
  if (options.aggregate === "heads") entry = "mean over heads";
  if (options.aggregate === "rollout") entry = `rollout through layers 0–${state.layer}, heads averaged per layer`;
  let rows =
    options.weighting === "value_norm"
      ? "Each row is a query: α·‖f(x)‖ for every key, scaled to sum to 1."
      : "Each row is a query and sums to 1.";
  // Nothing is left to renormalize in a row that read only special tokens.
  if (options.special_tokens === "drop") rows += " A row that read only special tokens stays empty.";
  return `${group.label}, layer ${state.layer}, ${entry}. ${rows}`;
}

// Tokens the model did not know are labelled as it read them (<unk>, [UNK]); what was typed
// there is listed here, so an alignment to <unk> is not mistaken for one to the word.
function showUnknown(unknown) {
  const note = $("unknown-note");
  const parts = Object.entries(unknown ?? {}).flatMap(([list, tokens]) =>
    tokens.map(([, typed]) => `“${typed}” (${listName(list)})`),
  );
  note.hidden = parts.length === 0;
  note.textContent = parts.length
    ? `The model does not know ${parts.join(", ")}: it read ${parts.length === 1 ? "it" : "each"} as an unknown token, and the labels show what it read.`
    : "";
}

function render() {
  const { body } = state.result;
  $("results").hidden = false;
  const forced = body.output_text == null ? state.result.request.target : null;
  $("output").hidden = body.output_text == null && !forced;
  $("output-label").textContent = forced ? "Teacher-forced on your text:" : "Model output:";
  $("output-text").textContent = body.output_text ?? forced ?? "";
  showUnknown(body.unknown);
  renderTabs();
  const group = currentGroup();
  renderSelectors(group.blocks);
  $("options-caption").textContent = describeOptions(body.options);
  $("view-caption").textContent = viewCaption(group, body.options);
  renderHeatmap(group);
  renderStepsPanel();
  renderComparePanel();
  renderPair();
  renderOverview(state.roles.get(rolesKey(state.result.request)));
  saveView(state.result.linkMode);
  state.result.linkMode = "replace";
}

// The view on show, as its link holds it.
function currentView() {
  const { request, options } = state.result;
  return {
    ...emptyView(),
    model: request.model,
    variant: request.variant ?? null,
    text: request.text,
    target: request.target ?? "",
    tab: tabKey(currentGroup()),
    layer: state.layer,
    head: state.head,
    options,
    compare: state.pair,
  };
}

function saveView(mode = "replace") {
  writeLink(currentView(), mode, () => {
    // a new address: what was copied before is not this view's link
    $("link-status").textContent = "";
    $("link-field").hidden = true;
  });
}

// `roles`: the model's head roles as loadRoles keeps them (undefined before it asked).
function renderOverview(roles) {
  const group = currentGroup();
  const combined = combinedEntry(state.result.body.options);
  $("overview-caption").textContent = combined
    ? `One thumbnail per layer: each block is already one matrix (${combined}), scaled to its own maximum. Click one to open it above.`
    : "Each thumbnail is one head, scaled to its own maximum; its letter is the head's role. Click one to open it above.";
  const kinds = new Set(group.blocks.map((b) => b.kind));
  drawLegend($("roles-legend"), roles, kinds, Boolean(combined));
  const selected = { layer: state.layer, head: viewHead() };
  drawOverview(
    $("overview"),
    group.blocks,
    selected,
    (layer, head) => {
      state.layer = layer;
      state.head = head;
      render();
      $("heatmap").scrollIntoView({ behavior: "smooth", block: "nearest" });
    },
    { combined, roles: roles?.state === "ready" ? roles.lookup : null },
  );
}

// Variants of one model (Luong's scorers) side by side, on the same sentence: each draws the
// block shown above (same name, same options), the mean over heads.
function renderComparePanel() {
  const { model, request } = state.result;
  const variants = model.variants;
  $("compare-panel").hidden = variants.length < 2;
  if (variants.length < 2) return;
  $("compare").textContent = `Compare ${variants.join(", ")}`;
  const shown = `Each variant draws ${state.group}, layer ${state.layer}, with the options above.`;
  $("compare-intro").textContent = request.target
    ? `${shown} Each reads your translation “${request.target}”, so the rows line up.`
    : `${shown} Each writes its own translation. Type your translation above to compare them on the same words.`;
}

async function compareVariants() {
  const { model, request, options } = state.result;
  const result = state.result;
  const { name } = shownBlock();
  $("compare").disabled = true;
  const cells = model.variants.map((variant) => el("div", { className: "compare-cell", dataset: { variant } }));
  $("compare-grid").replaceChildren(...cells);
  try {
    const bodies = await Promise.all(
      model.variants.map((variant) =>
        fetchAttention({ ...request, ...options, variant, layers: [state.layer], encoding: "float16" }),
      ),
    );
    if (result !== state.result) return;
    bodies.forEach((body, i) => {
      const block = body.blocks.map(fromWire).find((b) => b.name === name);
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
    showError(error.message);
  } finally {
    $("compare").disabled = false;
  }
}

// Two texts compared: each view fetches exactly the entry it draws, one head, the server's
// head mean, or the block's single combined entry, so that A and B are computed alike (A's
// request is a cache hit on the server). Kept per request, the last few only.
const entries = new Map();

function fetchEntry(request, options, layer, head) {
  const cut = combinedEntry(options) ? {} : head === MEAN ? { aggregate: "heads" } : { heads: [head] };
  const payload = { ...request, ...options, ...cut, layers: [layer], encoding: "float16" };
  const key = JSON.stringify(payload);
  if (!entries.has(key)) {
    const pending = fetchAttention(payload);
    pending.catch(() => entries.delete(key));
    entries.set(key, pending);
    if (entries.size > 8) entries.delete(entries.keys().next().value);
  }
  return entries.get(key);
}

// One side of the comparison: the entry of block `name` in `body`, with its labels.
function pairSide(body, name) {
  const block = body.blocks.map(fromWire).find((b) => b.name === name);
  if (!block) throw new Error(`B's run has no block ${name}.`);
  return {
    z: matrix(block, 0),
    rowTokens: body.tokens[block.rows],
    colTokens: body.tokens[block.cols],
    rowsName: listName(block.rows),
    colsName: listName(block.cols),
  };
}

function pairViews() {
  return { a: $("pair-a"), b: $("pair-b"), difference: $("pair-diff"), caption: $("pair-caption") };
}

function showPairError(message) {
  $("pair-error").textContent = message;
  $("pair-error").hidden = !message;
}

let pairTicket = 0;

// Draws A and B for the block, layer and head on show; true once drawn. A failure (B too long
// for the model, say) ends the comparison and says why.
async function renderPair() {
  const ticket = ++pairTicket;
  const comparing = Boolean(state.pair && state.result);
  $("pair-close").hidden = !comparing;
  $("pair-panel").classList.toggle("comparing", comparing);
  if (!comparing) {
    $("pair-status").classList.remove("busy");
    clearPair(pairViews());
    for (const id of ["pair-a-text", "pair-b-text"]) $(id).textContent = "";
    return false;
  }
  const { model, request, options } = state.result;
  const { name } = shownBlock();
  const { layer } = state;
  const head = viewHead();
  const pair = state.pair;
  const requestB = runRequest(model, pair.text, pair.target, request.variant);
  showPairError("");
  $("pair-status").textContent = `Running B on ${model.name}…`;
  $("pair-status").classList.add("busy");
  try {
    const [bodyA, bodyB] = await Promise.all([
      fetchEntry(request, options, layer, head),
      fetchEntry(requestB, options, layer, head),
    ]);
    if (ticket !== pairTicket) return false;
    const sides = [pairSide(bodyA, name), pairSide(bodyB, name)];
    for (const [id, text] of [["pair-a-text", request.text], ["pair-b-text", pair.text]]) {
      Object.assign($(id), { textContent: text, title: text });
    }
    const { matched } = drawPair(pairViews(), ...sides);
    const entry = head === MEAN ? combinedEntry(options) ?? "mean over heads" : `head ${head}`;
    $("pair-status").textContent = `${state.group}, layer ${layer}, ${entry}${matched ? "" : " · no difference: the tokens do not line up"}`;
    return true;
  } catch (error) {
    if (ticket !== pairTicket) return false;
    state.pair = null;
    $("pair-status").textContent = "";
    showPairError(`B could not be compared: ${error.message}`);
    renderPair();
    saveView();
    return false;
  } finally {
    if (ticket === pairTicket) $("pair-status").classList.remove("busy");
  }
}

async function startPair() {
  if (!state.result) return;
  const text = $("pair-text").value;
  if (!text.trim()) {
    showPairError("Type text B first.");
    return;
  }
  state.pair = { text, target: state.result.model.family === "encoder" ? "" : $("pair-target").value };
  if (await renderPair()) saveView("push");
}

// The stack /explain can open for the block on show, if the response says it can: only
// self-attention of an explainable model, in the raw view.
function stepStack() {
  if (!state.result) return null;
  const block = shownBlock();
  return block?.explainable ? block.stack : null;
}

let stepsRequest = 0;

async function renderStepsPanel() {
  const stack = stepStack();
  $("steps-panel").hidden = !state.result.model.explainable;
  if (!stack) {
    $("steps-intro").textContent =
      "The step-by-step view opens one head on the model's raw weights: choose a self-attention tab and the raw view (tokens, keep special tokens, each head, attention weights).";
    $("query-chips").replaceChildren();
    $("steps").replaceChildren();
    return;
  }
  const rowTokens = state.result.body.tokens[shownBlock().rows];
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
  if (state.head === MEAN) state.head = shownBlock().heads[0];
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

// Shows the view the address holds: on opening the page, and on Back and Forward. What the
// link asks for and cannot have is said in the notice, and falls back to the defaults.
let linkTicket = 0;

async function openLink() {
  const ticket = ++linkTicket;
  forgetPendingLinks();
  const read = await readLink(location.href);
  if (ticket !== linkTicket) return; // another Back or Forward came while this one was read
  const { view, problems } = checkView(read.view, state.models);
  showNotice([...read.problems, ...problems]);
  const model = state.models.get(view.model);
  cancelGeneration();
  state.inFlight?.abort();
  setBusy(false);
  if (currentModel() !== model || !view.text) {
    $("model").value = model.id;
    selectModel(model, { keepText: Boolean(view.text) });
  }
  if (model.variants.length) $("variant").value = view.variant;
  writeOptions($("options"), view.options);
  $("pair-text").value = view.compare?.text ?? "";
  $("pair-target").value = view.compare?.target ?? "";
  state.pair = view.compare;
  if (!view.text) {
    Object.assign(state, { result: null, latest: null, wanted: null, group: null, pair: null });
    $("results").hidden = true;
    return;
  }
  $("text").value = view.text;
  $("target").value = view.target;
  const request = runRequest(model, view.text, view.target, view.variant);
  const wanted = { tab: view.tab, layer: view.layer, head: view.head };
  if (state.result && sameRun(state.result, request, view.options)) {
    // Only the view differs: no request needed.
    state.latest = { model, request: state.result.request, history: "replace" };
    applyWanted(wanted);
    render();
    return;
  }
  state.wanted = wanted;
  await load(model, request, `Opening the link: ${model.name}…`);
}

function sameRun(result, request, options) {
  const fields = ["model", "variant", "text", "target"];
  return (
    fields.every((field) => result.request[field] === request[field]) &&
    Object.keys(options).every((name) => result.options[name] === options[name])
  );
}

// What the heatmap and the line view draw (null while they are being drawn).
function shownView() {
  if (!state.shown) throw new Error("the view is still being drawn; try again in a moment");
  return state.shown;
}

function exportName(suffix = "") {
  return fileName(shownView(), suffix);
}

// The title line of a picture: "minilm · Encoder self-attention · layer 3 · head 5 · Word level".
function exportTitle({ layer = true } = {}) {
  const shown = shownView();
  const model = shown.variant ? `${shown.model} (${shown.variant})` : shown.model;
  const entry = typeof shown.head === "number" ? `head ${shown.head}` : shown.head === "mean" ? "mean over heads" : shown.head;
  const where = layer ? `layer ${shown.layer} · ${entry}` : "all layers × heads";
  return `${model} · ${shown.tab} · ${where} · ${describeOptions(shown.options)}`;
}

// The line view's picture, when it drew one (it draws a note past its token limit).
function linesPicture() {
  const svg = $("lines").querySelector("svg");
  if (!svg) throw new Error("the line view draws no picture for this many tokens; the JSON and CSV hold the numbers");
  return svg;
}

function overviewData() {
  const { request, options, body } = state.result;
  const combined = { heads: "mean", rollout: "rollout" }[options.aggregate] ?? null;
  return { ...request, tab: state.group, options, maxSize: THUMBNAIL_SIZE, blocks: currentGroup().blocks, tokens: body.tokens, combined };
}

function bindExports() {
  const grid = () => $("overview").querySelector(".overview-grid");
  const overviewName = () => fileName({ ...shownView(), layer: null, head: null }, "overview");
  bindExportBar(
    $("heatmap-export"),
    {
      png: () => ({ blob: plotImage($("heatmap"), "png", exportTitle()), name: exportName("heatmap") }),
      svg: () => ({ blob: plotImage($("heatmap"), "svg", exportTitle()), name: exportName("heatmap") }),
      json: () => ({ blob: viewJson(shownView()), name: exportName() }),
      csv: () => ({ blob: viewCsv(shownView()), name: exportName() }),
    },
    showError,
  );
  bindExportBar(
    $("lines-export"),
    {
      png: () => ({ blob: linesPng(linesPicture(), exportTitle()), name: exportName("lines") }),
      svg: () => ({ blob: linesSvg(linesPicture(), exportTitle()), name: exportName("lines") }),
      json: () => ({ blob: viewJson(shownView()), name: exportName() }),
      csv: () => ({ blob: viewCsv(shownView()), name: exportName() }),
    },
    showError,
  );
  bindExportBar(
    $("overview-export"),
    {
      png: () => ({ blob: overviewPng(grid(), exportTitle({ layer: false })), name: overviewName() }),
      svg: () => ({ blob: overviewSvg(grid(), exportTitle({ layer: false })), name: overviewName() }),
      json: () => ({ blob: overviewJson(overviewData()), name: overviewName() }),
    },
    showError,
  );
}

function bindPair() {
  $("pair-form").addEventListener("submit", (e) => {
    e.preventDefault();
    startPair();
  });
  $("pair-text").addEventListener("keydown", (e) => {
    if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) startPair();
  });
  $("pair-copy").addEventListener("click", () => {
    $("pair-text").value = state.result?.request.text ?? $("text").value;
    $("pair-text").focus();
  });
  $("pair-close").addEventListener("click", () => {
    state.pair = null;
    showPairError("");
    renderPair();
    saveView();
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
  $("generate").addEventListener("click", () => {
    const model = currentModel();
    const text = typedText();
    if (!model || text === null) return;
    showError("");
    startGeneration(model, text);
  });
  bindTimeline();
  bindExports();
  bindPair();
  bindAlignment(() => state.result && renderHeatmap(currentGroup()));
  $("copy-link").addEventListener("click", () => copyLink($("link-status"), $("link-field")));
  $("options").addEventListener("change", () => {
    // The run last asked for, even while it is still on its way: a newer text is never
    // replaced by the one on show.
    const { latest } = state;
    if (latest) load(latest.model, latest.request, `Applying options to ${latest.model.name}…`, latest.history);
  });
  $("run-form").addEventListener("submit", (e) => {
    e.preventDefault();
    run();
  });
  $("text").addEventListener("keydown", (e) => {
    if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) run();
  });
  $("model").addEventListener("change", () => {
    state.inFlight?.abort(); // a run of the previous model would land on this one
    setBusy(false);
    state.result = null;
    state.latest = null;
    state.wanted = null;
    state.pair = null;
    state.group = null; // another model: its first run opens on its default tab
    $("results").hidden = true;
    showError("");
    showNotice([]);
    renderPair();
    selectModel(currentModel());
    // Another model is a new page state: Back returns to the run before it.
    writeLink({ ...emptyView(), model: currentModel().id, options: readOptions($("options")) }, "push");
  });
  window.addEventListener("popstate", () => openLink());
  try {
    const models = await fetchModels();
    for (const model of models) state.models.set(model.id, model);
    $("model").replaceChildren(...models.map((m) => el("option", { value: m.id, text: `${m.name} (${m.id})` })));
    if (!models.length) {
      showError("This server offers no models. Check its log for models that failed to load.");
      return;
    }
    if (location.search || location.hash) await openLink();
    else selectModel(models[0]);
    document.body.dataset.ready = "true";
  } catch (error) {
    showError(error.message);
  }
}

start();
