// What the page asks the server, and the one cache of the answers it reuses: a layer at full
// resolution, the entry of one head (or the mean) that two texts compare, each variant's
// layer, a model's head roles. Answers are kept decoded, by their request; one that failed is
// forgotten, so that the next ask tries again. The server keeps the run itself: a cached
// answer saves the transfer and the decoding, not a forward pass.

import { fetchAlignment, fetchAttention, fetchExplain, fetchHeadRoles } from "./api.js";
import { MEAN, fromWire } from "./blocks.js";
import { superseded } from "./lane.js";
import { combinedEntry } from "./options.js";

// The overview comes pooled to this many rows and columns, one byte a weight; the focused
// views fetch their layer at full resolution in half floats.
export const THUMBNAIL_SIZE = 48;
const FOCUS_LAYER_LIMIT = 4_000_000; // weights in one layer fetched at once; see layerBlocks
const CACHE_LIMIT = 24; // answers of /attention kept; the one used longest ago goes first

const cache = new Map(); // key -> { promise, value, done, lasting }, the most recently used last

function remember(key, ask, { lasting = false } = {}) {
  let entry = cache.get(key);
  if (entry) {
    cache.delete(key);
  } else {
    entry = { promise: ask(), done: false, lasting };
    const kept = entry;
    kept.promise.then(
      (value) => Object.assign(kept, { value, done: true }),
      () => cache.get(key) === kept && cache.delete(key),
    );
  }
  cache.set(key, entry);
  const evictable = [...cache.keys()].filter((k) => !cache.get(k).lasting);
  for (const old of evictable.slice(0, Math.max(0, evictable.length - CACHE_LIMIT))) cache.delete(old);
  return entry.promise;
}

function decoded(body) {
  return { ...body, blocks: body.blocks.map(fromWire) };
}

function cachedAttention(payload) {
  return remember(JSON.stringify(payload), () => fetchAttention(payload).then(decoded));
}

// One head, or the server's head mean, of a layer.
function headCut(head) {
  return head === MEAN ? { aggregate: "heads" } : { heads: [head] };
}

// The overview of a run (every block pooled to thumbnails) under `options`; never cached, and
// aborted through `signal` when a newer run or option supersedes it.
export async function fetchOverview(request, options, signal) {
  const payload = { ...request, ...options, encoding: "uint8", max_size: THUMBNAIL_SIZE };
  return decoded(await fetchAttention(payload, signal));
}

// The full-resolution blocks of one layer of `result` (every tab, every head). A layer of a
// long run is fetched one head at a time, or as the server's head mean: every head of a
// 2048-token SmolLM2 layer is 9 × 2048² weights, 75 MB as half floats.
export async function layerBlocks({ request, options, blocks }, layer, head) {
  const sizes = blocks.filter((b) => b.layer === layer).map((b) => (b.pooled_from ?? b.shape).reduce((a, c) => a * c, 1));
  const whole = Math.max(...sizes) <= FOCUS_LAYER_LIMIT || combinedEntry(options);
  const cut = whole ? {} : headCut(head);
  const body = await cachedAttention({ ...request, ...options, ...cut, layers: [layer], encoding: "float16" });
  return body.blocks;
}

// Exactly the entry a view of `layer` and `head` draws: one head, the server's head mean, or
// the block's single combined entry, so that two texts are computed alike.
export function layerEntry(request, options, layer, head) {
  const cut = combinedEntry(options) ? {} : headCut(head);
  return cachedAttention({ ...request, ...options, ...cut, layers: [layer], encoding: "float16" });
}

// One layer of the run of `request` under another variant of its model.
export function variantLayer(request, options, variant, layer) {
  return cachedAttention({ ...request, ...options, variant, layers: [layer], encoding: "float16" });
}

function rolesKey(model, variant) {
  return `roles ${model}|${variant ?? ""}`;
}

// What every head of a model does: scored once per model and variant, then kept for the page's
// life (a failure is asked again the next time).
export function headRoles(model, variant) {
  return remember(rolesKey(model, variant), () => fetchHeadRoles(model, variant), { lasting: true });
}

// The head roles of a model if they have already come; undefined otherwise.
export function knownHeadRoles(model, variant) {
  const entry = cache.get(rolesKey(model, variant));
  return entry?.done ? entry.value : undefined;
}

export function explainQuery(payload, signal) {
  return fetchExplain(payload, signal);
}

// The word links of `request`, scored against `gold` when one is given. A gold the server
// refuses (a typo, an index out of range) still gets the links, with the reason it was not
// scored: { aligned, goldProblem }.
export async function alignmentLinks(request, gold, signal) {
  if (!gold) return { aligned: await fetchAlignment(request, signal), goldProblem: null };
  try {
    return { aligned: await fetchAlignment({ ...request, gold }, signal), goldProblem: null };
  } catch (error) {
    if (superseded(error)) throw error;
    return { aligned: await fetchAlignment(request, signal), goldProblem: error.message };
  }
}
