// Runs: a model chosen, a run asked for and its overview put in the store, options applied
// to the run last asked for, and the head roles of the run's model asked for once it is drawn.
// Changing an option fetches the latest run's request again: the server keeps the run, so
// that is no second forward pass.

import { groupByLabel } from "./blocks.js";
import { fetchOverview, headRoles, knownHeadRoles } from "./data.js";
import { NO_TEXT, formRequest, offerModel, typedText } from "./form.js";
import { cancelGeneration, offerGeneration } from "./generation.js";
import { Lane, superseded } from "./lane.js";
import { readOptions } from "./options.js";
import { resolveView } from "./permalink.js";
import { roleLookup } from "./roles.js";
import { rolesKey } from "./state.js";

const $ = (id) => document.getElementById(id);

const runs = new Lane();

// Sets the page up for `model`: the form, the generation timeline, and the store.
export function chooseModel(store, model, { keepText = false } = {}) {
  offerModel(model, { keepText });
  offerGeneration(store, model);
  store.set({ model });
}

// Stops the run on its way, if any: it would land on a page that moved on.
export function cancelRun(store) {
  runs.cancel();
  store.set({ busy: false, status: "" });
}

export async function run(store) {
  const { model } = store.state;
  if (!model) return;
  const text = typedText();
  if (text === null) {
    store.set({ error: NO_TEXT });
    return;
  }
  cancelGeneration(store); // a new run supersedes the timeline being written
  store.set({ wanted: null, notice: [] });
  await load(store, model, formRequest(model, text), `Running ${model.name}…`, "push");
}

// The run last asked for, under the options the controls now show (even while that run is
// still on its way: a newer text is never replaced by the one on show).
export function applyOptions(store) {
  const { latest } = store.state;
  if (latest) load(store, latest.model, latest.request, `Applying options to ${latest.model.name}…`, latest.history);
}

// The tab, layer and head (and comparison) a link asks for, placed on `groups`; what they
// lack falls back to the defaults, and the notice says so.
export function placeWanted(state, groups, wanted) {
  const { label, layer, head, problems } = resolveView(groups, wanted);
  return {
    group: label,
    layer,
    head,
    pair: wanted.compare,
    wanted: null,
    query: null,
    notice: [...state.notice, ...problems],
  };
}

// Fetches the overview of `request` (a run: model, text, target, variant) under the options
// the controls show. `history`: how the drawn run writes the address, "push" for a new run,
// "replace" for a new view of one.
export async function load(store, model, request, message, history = "replace") {
  const latest = { model, request, history };
  const options = readOptions($("options"));
  store.set({ latest, error: "", busy: true, status: message });
  let body;
  try {
    body = await runs.run((signal) => fetchOverview(request, options, signal));
  } catch (error) {
    if (superseded(error)) return;
    store.set({ wanted: null, busy: false, status: "", error: error.message });
    return;
  }
  const { state } = store;
  const groups = groupByLabel(body.blocks);
  // Without a link's wish, the tab on show stays; else the last group the response lists:
  // for a translator, the alignment its user came for.
  const place = state.wanted
    ? placeWanted(state, groups, state.wanted)
    : { group: groups.some((g) => g.label === state.group) ? state.group : groups.at(-1).label };
  store.set({
    result: { body, blocks: body.blocks, groups, request, options, model, history },
    latest: { ...latest, history: "replace" },
    query: null,
    ...place,
    busy: false,
    status: `${model.name}: ${body.blocks.length} blocks`,
    roles: rolesOf(state.roles, request),
  });
  askRoles(store, request);
}

// The head roles of the model of `request` as far as they are known.
function rolesOf(current, request) {
  const key = rolesKey(request);
  if (current?.key === key && current.state !== "failed") return current;
  const body = knownHeadRoles(request.model, request.variant);
  return body ? { key, state: "ready", body, lookup: roleLookup(body) } : { key, state: "loading" };
}

// Asked for only once a run is on screen: the server scores a model's heads on the same
// inference queue as runs (a few seconds for SmolLM2, the first time), so asking earlier would
// hold up the first heatmap.
function askRoles(store, request) {
  const key = rolesKey(request);
  if (store.state.roles?.state !== "loading") return;
  const waiting = () => store.state.roles?.key === key && store.state.roles.state === "loading";
  headRoles(request.model, request.variant).then(
    (body) => waiting() && store.set({ roles: { key, state: "ready", body, lookup: roleLookup(body) } }),
    (error) => waiting() && store.set({ roles: { key, state: "failed", error: error.message } }),
  );
}
