// The generation timeline panel: the prompt and the tokens written so far, and a scrubber over
// them that shows, for step t, the attention row that produced token t (the position read
// last before writing it) over every earlier position, for one layer and one head or the mean
// over heads. The stream itself is generation.js's.

import { MEAN, entryMean, fromWire } from "../blocks.js";
import { cancelGeneration, selectStep } from "../generation.js";
import { el } from "../text.js";
import { drawStrip } from "../timeline-strip.js";

const $ = (id) => document.getElementById(id);

export const watches = ["generation", "timeline"];

let store = null;
// What is on screen: the generation and model they belong to, one token node per position,
// the steps already listed, the decoded rows of the step drawn, a pending draw.
const drawn = { id: null, model: null, prompt: null, nodes: [], listed: 0, decoded: null, frame: 0 };

export function bind(pageStore) {
  store = pageStore;
  const choose = (fields) => store.set({ timeline: { ...store.state.timeline, ...fields } });
  $("timeline-step").addEventListener("input", (e) => selectStep(store, Number(e.target.value)));
  $("timeline-layer").addEventListener("change", (e) => choose({ layer: Number(e.target.value) }));
  $("timeline-head").addEventListener("change", (e) => {
    choose({ head: e.target.value === MEAN ? MEAN : Number(e.target.value) });
  });
  $("timeline-stop").addEventListener("click", () => cancelGeneration(store));
}

// The Generate button for decoder-only models, and the timeline's layer and head pickers.
function offer({ model, offered }) {
  $("generate").hidden = !offered;
  $("generate-hint").hidden = !offered;
  if (!offered) return;
  const numbered = (n) => Array.from({ length: n }, (_, i) => el("option", { value: String(i), text: String(i) }));
  $("timeline-layer").replaceChildren(...numbered(model.layers));
  $("timeline-head").replaceChildren(el("option", { value: MEAN, text: "mean over heads" }), ...numbered(model.heads));
}

function tokenNode(token, position, step = null) {
  const className = `token${token.special ? " special" : ""}`;
  const title = `position ${position}${token.special ? ", special token" : ""}`;
  if (step === null) return el("span", { className: `${className} prompt`, text: token.text, title });
  const node = el("button", {
    type: "button",
    className: `${className} written`,
    text: token.text,
    title: `${title}, written at step ${step}`,
    dataset: { step: String(step) },
  });
  node.addEventListener("click", () => selectStep(store, step));
  return node;
}

// The prompt's tokens, then each written token as it comes.
function listTokens({ prompt, steps }) {
  if (drawn.prompt !== prompt) {
    drawn.prompt = prompt;
    drawn.nodes = prompt.map((token, i) => tokenNode(token, i));
    drawn.listed = 0;
    $("timeline-tokens").replaceChildren(...drawn.nodes);
  }
  for (const step of steps.slice(drawn.listed)) {
    const node = tokenNode(step.token, step.query + 1, step.step);
    drawn.nodes.push(node);
    $("timeline-tokens").append(node);
  }
  drawn.listed = steps.length;
}

function clearStrip() {
  $("timeline-caption").textContent = "";
  $("timeline-step-label").textContent = "";
  if (window.Plotly) window.Plotly.purge($("timeline-strip"));
  $("timeline-strip").replaceChildren();
}

export function render({ generation, timeline }) {
  if (!generation) return;
  if (generation.model !== drawn.model) {
    drawn.model = generation.model;
    offer(generation);
  }
  if (generation.id !== drawn.id) {
    drawn.id = generation.id;
    drawn.prompt = null;
    clearStrip();
  }
  const panel = $("timeline-panel");
  panel.hidden = !generation.shown;
  panel.dataset.state = generation.state;
  panel.dataset.written = String(generation.steps.length);
  $("timeline-status").textContent = generation.message;
  $("timeline-status").classList.toggle("busy", generation.state === "streaming");
  $("timeline-stop").hidden = generation.state !== "streaming";
  $("timeline-error").textContent = generation.error;
  $("timeline-error").hidden = !generation.error;
  $("timeline-layer").value = String(timeline.layer);
  $("timeline-head").value = String(timeline.head);
  listTokens(generation);
  const slider = $("timeline-step");
  slider.disabled = generation.steps.length === 0;
  slider.max = String(Math.max(generation.steps.length - 1, 0));
  slider.value = String(timeline.step);
  if (generation.steps.length) scheduleDraw();
}

// Draws at most once a frame: tokens may arrive faster than Plotly redraws.
function scheduleDraw() {
  if (drawn.frame) return;
  drawn.frame = requestAnimationFrame(() => {
    drawn.frame = 0;
    draw();
  });
}

function markTokens(query, writes) {
  drawn.nodes.forEach((node, position) => {
    node.classList.toggle("reads", position === query);
    node.classList.toggle("writes", position === writes);
  });
}

// The row of one layer for one head, or the mean over heads, from [layers, heads, keys].
function row(rows, [, heads, keys], layer, head) {
  const start = layer * heads * keys;
  if (head === MEAN) return entryMean(rows, start, heads, keys);
  return rows.subarray(start + head * keys, start + (head + 1) * keys);
}

function draw() {
  const { generation, timeline } = store.state;
  const { steps, prompt } = generation;
  const step = steps[timeline.step];
  if (!step || !window.Plotly) return;
  if (drawn.decoded?.step !== step) drawn.decoded = { step, rows: fromWire(step).data };
  const weights = Array.from(row(drawn.decoded.rows, step.shape, timeline.layer, timeline.head));
  const tokens = [...prompt, ...steps.map((s) => s.token)];
  const writes = step.query + 1;
  const headText = timeline.head === MEAN ? "mean over heads" : `head ${timeline.head}`;
  const quoted = (token) => `“${token.text}”`;

  $("timeline-step-label").textContent = `t = ${timeline.step}: ${quoted(step.token)}, token ${timeline.step + 1} of ${steps.length}`;
  $("timeline-caption").textContent =
    `Step ${timeline.step}: reading ${quoted(tokens[step.query])} (position ${step.query}) last, the model writes ` +
    `${quoted(step.token)}. The bars are that position's attention over positions 0–${step.query}, layer ${timeline.layer}, ${headText}.`;
  markTokens(step.query, writes);
  drawStrip($("timeline-strip"), { weights, tokens, promptLength: prompt.length, writes, written: step.token });
  Object.assign($("timeline-strip").dataset, {
    step: String(timeline.step),
    layer: String(timeline.layer),
    head: String(timeline.head),
    keys: String(weights.length), // positions 0 .. query
  });
}
