// The page's state in its own URL, so that a link reopens the same view on any server and
// Back and Forward move between runs. Short fields travel in the query, readable:
//
//   /?model=minilm&tab={stack}.{kind}&layer=3&head=5&granularity=word&text=…&compare=…
//
// Texts too long for a readable query travel compressed in the fragment instead,
// `#z=` + base64url(deflate-raw(JSON of the texts)); browsers never send a fragment to the
// server, so a long text costs the server nothing. Nothing is stored on the server.

import { DEFAULT_OPTIONS } from "./options.js";
import { MEAN } from "./blocks.js";

// Texts whose URL-encoded form passes this many characters go compressed into the fragment.
const QUERY_TEXT_LIMIT = 1000;
// Links longer than this may be cut on the way: Chromium opens links of up to 2 MB, but its
// address bar keeps only the first 32 KiB of one, and many mail and chat apps cut earlier.
export const LINK_LIMIT = 32_000;
// A fragment never inflates to more than this (a small link must not unpack to gigabytes).
const MAX_INFLATED_BYTES = 1 << 20;

const TEXT_FIELDS = ["text", "target", "compare", "compare_target"];
const OPTION_VALUES = {
  granularity: ["token", "word"],
  special_tokens: ["keep", "drop"],
  aggregate: ["none", "heads", "rollout"],
  weighting: ["attention", "value_norm"],
};

// A view: what a link holds. `text` null: no run (the model's page with its example).
export function emptyView() {
  return {
    model: null,
    variant: null,
    text: null,
    target: "",
    tab: null,
    layer: null,
    head: null,
    options: { ...DEFAULT_OPTIONS },
    compare: null, // { text, target } when a second text is compared
  };
}

function base64url(bytes) {
  let binary = "";
  for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(binary).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
}

function fromBase64url(text) {
  const binary = atob(text.replaceAll("-", "+").replaceAll("_", "/"));
  return Uint8Array.from(binary, (ch) => ch.charCodeAt(0));
}

async function deflate(text) {
  const stream = new Blob([text]).stream().pipeThrough(new CompressionStream("deflate-raw"));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

async function inflate(bytes) {
  const reader = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("deflate-raw")).getReader();
  const chunks = [];
  let size = 0;
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    size += value.length;
    if (size > MAX_INFLATED_BYTES) {
      reader.cancel();
      throw new Error("too large");
    }
    chunks.push(value);
  }
  const joined = new Uint8Array(size);
  let at = 0;
  for (const chunk of chunks) {
    joined.set(chunk, at);
    at += chunk.length;
  }
  return new TextDecoder("utf-8", { fatal: true }).decode(joined);
}

function textFields(view) {
  const fields = { text: view.text, target: view.target, compare: view.compare?.text, compare_target: view.compare?.target };
  return Object.fromEntries(Object.entries(fields).filter(([, value]) => value));
}

// The link of `view`, relative to this page: its path, query and, for long texts, fragment.
export async function linkFor(view) {
  const query = new URLSearchParams();
  if (view.model) query.set("model", view.model);
  if (view.variant) query.set("variant", view.variant);
  if (view.text) {
    if (view.tab) query.set("tab", view.tab);
    if (view.layer != null) query.set("layer", String(view.layer));
    if (view.head != null) query.set("head", String(view.head));
  }
  for (const [name, value] of Object.entries(view.options)) {
    if (value !== DEFAULT_OPTIONS[name]) query.set(name, value);
  }
  const texts = textFields(view);
  const inQuery = new URLSearchParams(texts).toString();
  let fragment = "";
  if (inQuery.length <= QUERY_TEXT_LIMIT) {
    for (const [name, value] of Object.entries(texts)) query.set(name, value);
  } else {
    fragment = `#z=${base64url(await deflate(JSON.stringify(texts)))}`;
  }
  const search = query.toString();
  return `${location.pathname}${search ? `?${search}` : ""}${fragment}`;
}

function readInteger(value, what, problems) {
  if (value == null) return null;
  if (/^\d{1,4}$/.test(value)) return Number(value);
  problems.push(`“${value}” is not a ${what} number.`);
  return null;
}

// The view a URL holds, and what in it could not be read (in words, for the page to show).
// Never throws: whatever cannot be read falls back to its default.
export async function readLink(href) {
  const url = new URL(href);
  const query = url.searchParams;
  const view = emptyView();
  const problems = [];
  view.model = query.get("model");
  view.variant = query.get("variant");
  view.tab = query.get("tab");
  view.layer = readInteger(query.get("layer"), "layer", problems);
  const head = query.get("head");
  view.head = head === MEAN ? MEAN : readInteger(head, "head", problems);
  for (const [name, values] of Object.entries(OPTION_VALUES)) {
    const value = query.get(name);
    if (value == null) continue;
    if (values.includes(value)) view.options[name] = value;
    else problems.push(`${name} “${value}” is not one of ${values.join(", ")}; using ${DEFAULT_OPTIONS[name]}.`);
  }
  const texts = Object.fromEntries(TEXT_FIELDS.map((name) => [name, query.get(name)]));
  const fragment = url.hash.startsWith("#z=") ? url.hash.slice(3) : null;
  if (fragment != null) {
    try {
      const packed = JSON.parse(await inflate(fromBase64url(fragment)));
      for (const name of TEXT_FIELDS) {
        const value = packed[name];
        if (value != null && typeof value !== "string") throw new Error(`${name} is not text`);
        if (value != null) texts[name] = value;
      }
    } catch {
      problems.push("The text in this link could not be read (the link may have been cut short); showing the model's example instead.");
      return { view: { ...emptyView(), model: view.model, variant: view.variant }, problems };
    }
  }
  view.text = texts.text || null;
  view.target = texts.target ?? "";
  if (texts.compare) view.compare = { text: texts.compare, target: texts.compare_target ?? "" };
  return { view, problems };
}

// `view` against the models this server offers: an unknown model falls back to the first
// model's page (no run); a variant or option the model lacks, to its default.
export function checkView(view, models) {
  const problems = [];
  const fallback = models.values().next().value;
  if (view.model != null && !models.has(view.model)) {
    problems.push(`This server has no model “${view.model}”; showing ${fallback.name} instead.`);
    return { view: { ...emptyView(), model: fallback.id }, problems };
  }
  const model = models.get(view.model ?? fallback.id);
  const checked = { ...view, model: model.id, options: { ...view.options } };
  if (model.variants.length) {
    if (view.variant != null && !model.variants.includes(view.variant)) {
      problems.push(`${model.name} has no variant “${view.variant}”; using ${model.default_variant}.`);
    }
    if (!model.variants.includes(view.variant)) checked.variant = model.default_variant;
  } else {
    checked.variant = null;
  }
  const offered = { aggregate: model.aggregates, weighting: model.weightings };
  for (const [name, values] of Object.entries(offered)) {
    if (!values.includes(checked.options[name])) {
      problems.push(`${model.name} does not offer ${name} “${checked.options[name]}”; using ${DEFAULT_OPTIONS[name]}.`);
      checked.options[name] = DEFAULT_OPTIONS[name];
    }
  }
  if (model.family === "encoder") {
    checked.target = "";
    if (checked.compare) checked.compare = { ...checked.compare, target: "" };
  }
  return { view: checked, problems };
}

// A tab's name in a link: the stack and kind its blocks share, as the blocks spell them.
export function tabKey(group) {
  const [block] = group.blocks;
  return `${block.stack}.${block.kind}`;
}

function span(numbers) {
  return numbers.length > 1 ? `${Math.min(...numbers)}–${Math.max(...numbers)}` : String(numbers[0]);
}

// The tab, layer and head `wanted` names, checked against the groups of a response; what
// does not exist falls back to the default (the last tab, its first layer, the head mean).
export function resolveView(groups, wanted) {
  const problems = [];
  let group = groups.find((g) => tabKey(g) === wanted.tab);
  if (!group) {
    group = groups.at(-1);
    if (wanted.tab != null) {
      const tabs = groups.map(tabKey).join(", ");
      problems.push(`This run has no tab “${wanted.tab}” (it has ${tabs}); showing ${group.label}.`);
    }
  }
  const layers = group.blocks.map((b) => b.layer);
  let layer = wanted.layer;
  if (layer == null || !layers.includes(layer)) {
    if (layer != null) problems.push(`${group.label} has no layer ${layer} (layers ${span(layers)}); showing layer ${layers[0]}.`);
    layer = layers[0];
  }
  const { heads } = group.blocks.find((b) => b.layer === layer);
  let head = wanted.head ?? MEAN;
  if (head !== MEAN && !heads.includes(head)) {
    problems.push(`Layer ${layer} has no head ${head} (heads ${span(heads)}); showing the mean over heads.`);
    head = MEAN;
  }
  return { label: group.label, layer, head, problems };
}
