// What the page holds, and what follows from it: the run on show, the tab, layer and head
// chosen, and the views derived from them. Every block says how to label itself (label, rows,
// cols), so nothing here knows one kind of attention from another.

import { MEAN } from "./blocks.js";
import { combinedEntry } from "./options.js";

export function initialState() {
  return {
    models: new Map(), // id -> the model as /models describes it
    model: null, // the model chosen
    // The run on show: { body (decoded, pooled), blocks, groups, request, options, model,
    // history: how its first drawing writes the address, "push" (a new run) or "replace" }.
    result: null,
    // { model, request, history }: the run last asked for, which option changes fetch again;
    // history stays "push" until that run is drawn, so an option changed meanwhile keeps the
    // new run's own history entry.
    latest: null,
    wanted: null, // { tab, layer, head } a link asks for, applied when its run arrives
    group: null, // the label of the blocks shown: one tab per label
    layer: 0,
    head: MEAN,
    query: null, // the query row opened step by step
    pair: null, // { text, target } of text B while two texts are compared
    // What the focused views draw (shown.js), null while it is being fetched.
    shown: null,
    align: null, // { method, threshold, gold } the alignment controls ask for
    roles: null, // { key, state: "loading" | "ready" | "failed", body, lookup, error } of the run's model
    busy: false,
    status: "",
    error: "",
    notice: [], // what a link asked for that cannot be shown, one line each
    // The continuation being written: { model, state, message, error, prompt, steps, budget }.
    generation: null,
    timeline: null, // { step, follow, layer, head }: what the timeline's strip shows
  };
}

export function currentGroup(state) {
  return state.result?.groups.find((g) => g.label === state.group) ?? null;
}

// The block on show in the overview response: its flags (explainable) and name.
export function shownBlock(state) {
  return currentGroup(state)?.blocks.find((b) => b.layer === state.layer) ?? null;
}

// The head the views draw: under a combined aggregate each block has one entry.
export function viewHead(state) {
  return combinedEntry(state.result.body.options) ? MEAN : state.head;
}

// The stack /explain can open for the block on show, if the response says it can: only
// self-attention of an explainable model, in the raw view.
export function stepStack(state) {
  const block = state.result && shownBlock(state);
  return block?.explainable ? block.stack : null;
}

export function rolesKey(request) {
  return `${request.model}|${request.variant ?? ""}`;
}

// A layer the tab has and a head its block has: what was chosen, or the tab's first layer
// and the mean over heads.
export function settle(state) {
  const group = currentGroup(state);
  if (!group) return state;
  const layers = group.blocks.map((b) => b.layer);
  const layer = layers.includes(state.layer) ? state.layer : layers[0];
  const { heads } = group.blocks.find((b) => b.layer === layer);
  const head = state.head === MEAN || heads.includes(state.head) ? state.head : MEAN;
  return layer === state.layer && head === state.head ? state : { ...state, layer, head };
}
