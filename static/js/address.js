// The address bar and the view on show, both ways: a link (on opening the page, on Back and
// Forward) opens the view it holds, and every view drawn writes its link. What a link asks for
// and cannot have is said in the notice, and falls back to the defaults.

import { cancelGeneration } from "./generation.js";
import { runRequest } from "./form.js";
import { Lane, superseded } from "./lane.js";
import { writeOptions } from "./options.js";
import { checkView, emptyView, readLink, tabKey } from "./permalink.js";
import { cancelRun, chooseModel, load, placeWanted } from "./runs.js";
import { forgetPendingLinks, writeLink } from "./share.js";
import { currentGroup } from "./state.js";
import { touched } from "./store.js";

const $ = (id) => document.getElementById(id);

const reading = new Lane();

// The view on show, as its link holds it.
function currentView(state) {
  const { request, options } = state.result;
  return {
    ...emptyView(),
    model: request.model,
    variant: request.variant ?? null,
    text: request.text,
    target: request.target ?? "",
    tab: tabKey(currentGroup(state)),
    layer: state.layer,
    head: state.head,
    options,
    compare: state.pair,
  };
}

export function saveView(state, mode = "replace") {
  writeLink(currentView(state), mode, () => {
    // a new address: what was copied before is not this view's link
    $("link-status").textContent = "";
    $("link-field").hidden = true;
  });
}

// Keeps the address on the view: a run's first drawing writes with its own history mode (a
// new run gets an entry of its own, so that Back returns to the one before); a change of tab,
// layer or head rewrites the entry.
export function followView(store) {
  store.subscribe((state, changed) => {
    if (!state.result || !touched(changed, "result", "group", "layer", "head")) return;
    saveView(state, changed.has("result") ? state.result.history : "replace");
  });
}

function sameRun(result, request, options) {
  const fields = ["model", "variant", "text", "target"];
  return (
    fields.every((field) => result.request[field] === request[field]) &&
    Object.keys(options).every((name) => result.options[name] === options[name])
  );
}

// Shows the view the address holds.
export async function openLink(store) {
  forgetPendingLinks();
  let read;
  try {
    read = await reading.run(() => readLink(location.href));
  } catch (error) {
    if (superseded(error)) return; // another Back or Forward came while this one was read
    throw error;
  }
  const { view, problems } = checkView(read.view, store.state.models);
  store.set({ notice: [...read.problems, ...problems] });
  const model = store.state.models.get(view.model);
  cancelGeneration(store);
  cancelRun(store);
  if (store.state.model !== model || !view.text) chooseModel(store, model, { keepText: Boolean(view.text) });
  if (model.variants.length) $("variant").value = view.variant;
  writeOptions($("options"), view.options);
  $("pair-text").value = view.compare?.text ?? "";
  $("pair-target").value = view.compare?.target ?? "";
  if (!view.text) {
    store.set({ result: null, latest: null, wanted: null, group: null, pair: null });
    return;
  }
  $("text").value = view.text;
  $("target").value = view.target;
  const request = runRequest(model, view.text, view.target, view.variant);
  const wanted = { tab: view.tab, layer: view.layer, head: view.head, compare: view.compare };
  const { result } = store.state;
  if (result && sameRun(result, request, view.options)) {
    // Only the view differs: no request needed.
    const latest = { model, request: result.request, history: "replace" };
    store.set({ latest, ...placeWanted(store.state, result.groups, wanted) });
    return;
  }
  store.set({ wanted });
  await load(store, model, request, `Opening the link: ${model.name}…`);
}
