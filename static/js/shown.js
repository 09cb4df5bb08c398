// What the focused views (heatmap, line view, alignment) draw: the block on show at full
// resolution, one head or the mean, with its labels and, for a block that reads as an
// alignment, its word links. Fetched whenever the run, tab, layer, head or alignment settings
// change, and put in the store as `shown` once all of it has come, so that the views draw it
// at once; `shown` is null meanwhile.

import { MEAN, matrix, rowTotals } from "./blocks.js";
import { alignmentLinks, layerBlocks } from "./data.js";
import { Lane, superseded } from "./lane.js";
import { currentGroup, viewHead } from "./state.js";

export const watches = ["result", "group", "layer", "head", "align"];

const fetching = new Lane();

function optionsKey(options) {
  return [options.granularity, options.special_tokens, options.aggregate, options.weighting].join("/");
}

// The links' indices skip special tokens; the views may show them. Position n of the
// alignment's list is the n-th label that is not special.
function displayIndex(special) {
  const positions = [];
  special.forEach((isSpecial, i) => {
    if (!isSpecial) positions.push(i);
  });
  return positions;
}

// The word links of `shown` as the alignment controls ask for them (`align`), and the cells of
// the views they fall on: { off } | { error } | { aligned, goldProblem, marks }.
async function alignmentOf(shown, body, align, signal) {
  if (align.method === "off") return { off: true };
  const request = { model: shown.model, text: shown.text, granularity: shown.options.granularity };
  if (shown.variant) request.variant = shown.variant;
  if (shown.target) request.target = shown.target;
  request.method = align.method;
  if (align.method !== "best") {
    request.layer = shown.layer;
    if (shown.head !== "mean") request.head = shown.head;
    if (align.method === "threshold") request.threshold = align.threshold;
  }
  try {
    const { aligned, goldProblem } = await alignmentLinks(request, align.gold, signal);
    const rows = displayIndex(body.special[shown.block.rows]);
    const cols = displayIndex(body.special[shown.block.cols]);
    return { aligned, goldProblem, marks: aligned.links.map(([row, col]) => [rows[row], cols[col]]) };
  } catch (error) {
    if (superseded(error)) throw error;
    return { error: error.message };
  }
}

async function fetchShown(state, signal) {
  const { result, layer } = state;
  const group = currentGroup(state);
  const entry = viewHead(state);
  const block = (await layerBlocks(result, layer, entry)).find((b) => b.label === group.label);
  const position = entry === MEAN ? MEAN : block.heads.indexOf(entry);
  const { tokens, options } = result.body;
  const shown = {
    model: result.request.model,
    variant: result.request.variant,
    text: result.request.text,
    target: result.request.target,
    tab: group.label,
    block,
    layer,
    entry, // the head the views draw, or MEAN
    head: entry !== MEAN ? entry : options.aggregate === "rollout" ? "rollout" : "mean",
    options: result.options,
    optionsKey: optionsKey(options),
    z: matrix(block, position),
    rowTokens: tokens[block.rows],
    colTokens: tokens[block.cols],
    rowTotals: rowTotals(block, position),
    alignment: null,
  };
  if (block.aligns) shown.alignment = await alignmentOf(shown, result.body, state.align, signal);
  return shown;
}

export function load(store) {
  const { state } = store;
  if (!state.result) {
    fetching.cancel();
    return;
  }
  store.set({ shown: null });
  fetching.run((signal) => fetchShown(state, signal)).then(
    (shown) => store.set({ shown }),
    (error) => superseded(error) || store.set({ error: error.message }),
  );
}
