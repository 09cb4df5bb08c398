// The head of the results: what the model wrote (or was forced to read), the tokens it did not
// know, one tab per group of blocks, the layer and head pickers, and the captions that say
// what is on show.

import { MEAN, listName } from "../blocks.js";
import { combinedEntry, describeOptions } from "../options.js";
import { currentGroup } from "../state.js";
import { el } from "../text.js";

const $ = (id) => document.getElementById(id);

export const watches = ["result", "group", "layer", "head"];

let store = null;

export function bind(pageStore) {
  store = pageStore;
  $("layer").addEventListener("change", (e) => store.set({ layer: Number(e.target.value) }));
  $("head").addEventListener("change", (e) => {
    store.set({ head: e.target.value === MEAN ? MEAN : Number(e.target.value) });
  });
}

function renderOutput({ result }) {
  const { body } = result;
  const forced = body.output_text == null ? result.request.target : null;
  $("output").hidden = body.output_text == null && !forced;
  $("output-label").textContent = forced ? "Teacher-forced on your text:" : "Model output:";
  $("output-text").textContent = body.output_text ?? forced ?? "";
}

// Tokens the model did not know are labelled as it read them (<unk>, [UNK]); what was typed
// there is listed here, so an alignment to <unk> is not mistaken for one to the word.
function renderUnknown(unknown) {
  const note = $("unknown-note");
  const parts = Object.entries(unknown ?? {}).flatMap(([list, tokens]) =>
    tokens.map(([, typed]) => `“${typed}” (${listName(list)})`),
  );
  note.hidden = parts.length === 0;
  note.textContent = parts.length
    ? `The model does not know ${parts.join(", ")}: it read ${parts.length === 1 ? "it" : "each"} as an unknown token, and the labels show what it read.`
    : "";
}

function renderTabs(state) {
  const tabs = state.result.groups.map((group) => {
    const tab = el("button", {
      type: "button",
      role: "tab",
      className: "tab",
      text: group.label,
      ariaSelected: String(group.label === state.group),
    });
    tab.addEventListener("click", () => store.set({ group: group.label, query: null }));
    return tab;
  });
  $("block-tabs").replaceChildren(...tabs);
}

function renderSelectors(state, blocks) {
  $("layer").replaceChildren(
    ...blocks.map(({ layer }) => el("option", { value: String(layer), text: String(layer), selected: layer === state.layer })),
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
  const { heads } = blocks.find((b) => b.layer === state.layer);
  select.replaceChildren(
    el("option", { value: MEAN, text: "mean over heads", selected: state.head === MEAN }),
    ...heads.map((head) => el("option", { value: String(head), text: String(head), selected: head === state.head })),
  );
}

function viewCaption(state, group, options) {
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

export function render(state) {
  $("results").hidden = !state.result;
  if (!state.result) return;
  const { body } = state.result;
  renderOutput(state);
  renderUnknown(body.unknown);
  renderTabs(state);
  const group = currentGroup(state);
  renderSelectors(state, group.blocks);
  $("options-caption").textContent = describeOptions(body.options);
  $("view-caption").textContent = viewCaption(state, group, body.options);
}
