// Two texts compared on one model: the same block, layer and head (or mean) of text A (the
// run on show) and text B, on one colour scale, and their difference where they line up.
// Each side fetches exactly the entry it draws (data.js layerEntry), so that A and B are
// computed alike.

import { MEAN, listName, matrix } from "../blocks.js";
import { saveView } from "../address.js";
import { layerEntry } from "../data.js";
import { runRequest } from "../form.js";
import { Lane, superseded } from "../lane.js";
import { combinedEntry } from "../options.js";
import { clearPair, drawPair } from "../pair.js";
import { shownBlock, viewHead } from "../state.js";

const $ = (id) => document.getElementById(id);

export const watches = ["result", "group", "layer", "head", "pair"];

const requests = new Lane();
let store = null;
// What is drawn or being drawn, and the promise of whether it was: the same view is drawn once.
let drawing = { view: [], done: Promise.resolve(false) };

// One side of the comparison: the entry of block `name` in `body`, with its labels.
function side(body, name) {
  const block = body.blocks.find((b) => b.name === name);
  if (!block) throw new Error(`B's run has no block ${name}.`);
  return {
    z: matrix(block, 0),
    rowTokens: body.tokens[block.rows],
    colTokens: body.tokens[block.cols],
    rowsName: listName(block.rows),
    colsName: listName(block.cols),
  };
}

function views() {
  return { a: $("pair-a"), b: $("pair-b"), difference: $("pair-diff"), caption: $("pair-caption") };
}

function showPairError(message) {
  $("pair-error").textContent = message;
  $("pair-error").hidden = !message;
}

// Draws A and B for the block, layer and head on show; true once drawn. A failure (B too long
// for the model, say) ends the comparison and says why.
async function draw(state) {
  const comparing = Boolean(state.pair && state.result);
  $("pair-close").hidden = !comparing;
  $("pair-panel").classList.toggle("comparing", comparing);
  if (!comparing) {
    requests.cancel();
    $("pair-status").classList.remove("busy");
    clearPair(views());
    for (const id of ["pair-a-text", "pair-b-text"]) $(id).textContent = "";
    return false;
  }
  const { model, request, options } = state.result;
  const { name } = shownBlock(state);
  const { layer, pair } = state;
  const head = viewHead(state);
  const requestB = runRequest(model, pair.text, pair.target, request.variant);
  showPairError("");
  $("pair-status").textContent = `Running B on ${model.name}…`;
  $("pair-status").classList.add("busy");
  try {
    const [bodyA, bodyB] = await requests.run(() =>
      Promise.all([layerEntry(request, options, layer, head), layerEntry(requestB, options, layer, head)]),
    );
    const sides = [side(bodyA, name), side(bodyB, name)];
    for (const [id, text] of [["pair-a-text", request.text], ["pair-b-text", pair.text]]) {
      Object.assign($(id), { textContent: text, title: text });
    }
    const { matched } = drawPair(views(), ...sides);
    const entry = head === MEAN ? combinedEntry(options) ?? "mean over heads" : `head ${head}`;
    $("pair-status").textContent = `${state.group}, layer ${layer}, ${entry}${matched ? "" : " · no difference: the tokens do not line up"}`;
    $("pair-status").classList.remove("busy");
    return true;
  } catch (error) {
    if (superseded(error)) return false;
    $("pair-status").textContent = "";
    showPairError(`B could not be compared: ${error.message}`);
    store.set({ pair: null });
    saveView(store.state);
    return false;
  }
}

// Draws the comparison of `state`, unless that very view is already drawn or being drawn;
// resolves to whether it was drawn.
export function render(state) {
  const view = [state.result, state.group, state.layer, state.head, state.pair];
  if (view.every((part, i) => part === drawing.view[i])) return drawing.done;
  drawing = { view, done: draw(state) };
  return drawing.done;
}

async function start() {
  const { result } = store.state;
  if (!result) return;
  const text = $("pair-text").value;
  if (!text.trim()) {
    showPairError("Type text B first.");
    return;
  }
  store.set({ pair: { text, target: result.model.family === "encoder" ? "" : $("pair-target").value } });
  // A comparison drawn is a view of its own: Back returns to the run without it.
  if (await render(store.state)) saveView(store.state, "push");
}

export function bind(pageStore) {
  store = pageStore;
  $("pair-form").addEventListener("submit", (e) => {
    e.preventDefault();
    start();
  });
  $("pair-text").addEventListener("keydown", (e) => {
    if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) start();
  });
  $("pair-copy").addEventListener("click", () => {
    $("pair-text").value = store.state.result?.request.text ?? $("text").value;
    $("pair-text").focus();
  });
  $("pair-close").addEventListener("click", () => {
    store.set({ pair: null });
    showPairError("");
    saveView(store.state);
  });
}
