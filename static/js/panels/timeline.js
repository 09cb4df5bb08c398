// The generation timeline: a decoder-only model writes its continuation one token at a time
// over Server-Sent Events, and a scrubber over the written tokens shows, for step t, the
// attention row that produced token t (the position read last before writing it) over every
// earlier position, for one layer and one head or the mean over heads.

import { streamGeneration } from "./api.js";
import { MEAN, fromWire } from "./blocks.js";
import { VIRIDIS } from "./colors.js";
import { FONT_FAMILY, el, plotlyText } from "./text.js";

const $ = (id) => document.getElementById(id);

const MAX_TICKS = 64;

// Why the model stopped writing, by the `stop` of the done event.
const STOPS = {
  eos: "it wrote its end-of-sequence token",
  max_new_tokens: "the token budget was spent",
  max_tokens: "the model's token limit was reached",
};

const timeline = {
  controller: null, // the stream in flight
  prompt: [], // tokens { text, id, special }
  steps: [], // step events as they came
  budget: 0,
  step: 0, // the step on show
  follow: true, // the scrubber follows the newest step while the model writes
  layer: 0,
  head: MEAN,
  tokenNodes: [], // one element per position: the prompt's, then the written tokens'
  decoded: null, // { step, rows: Float32Array [layers, heads, keys] } of the step on show
  frame: 0, // a pending requestAnimationFrame draw
};

const count = (n, word) => `${n} ${word}${n === 1 ? "" : "s"}`;

function setState(state, message) {
  $("timeline-panel").dataset.state = state;
  $("timeline-panel").dataset.written = String(timeline.steps.length);
  $("timeline-status").textContent = message;
  $("timeline-status").classList.toggle("busy", state === "streaming");
  $("timeline-stop").hidden = state !== "streaming";
}

function showError(message) {
  $("timeline-error").textContent = message;
  $("timeline-error").hidden = !message;
}

function clear() {
  Object.assign(timeline, { prompt: [], steps: [], budget: 0, step: 0, follow: true, tokenNodes: [], decoded: null });
  $("timeline-tokens").replaceChildren();
  $("timeline-caption").textContent = "";
  $("timeline-step-label").textContent = "";
  Object.assign($("timeline-step"), { min: "0", max: "0", value: "0", disabled: true });
  if (window.Plotly) window.Plotly.purge($("timeline-strip"));
  $("timeline-strip").replaceChildren();
  showError("");
}

// Stops the stream in flight, if any (closing the connection stops the server's generation).
export function cancelGeneration(message = null) {
  if (!timeline.controller) return;
  timeline.controller.abort();
  timeline.controller = null;
  const written = count(timeline.steps.length, "token");
  setState("stopped", message ?? `Stopped after ${written}.`);
}

// Shows the panel and the Generate button for decoder-only models; hides them otherwise.
export function offerTimeline(model) {
  cancelGeneration();
  clear();
  const offered = model.family === "decoder";
  $("timeline-panel").hidden = true; // shown by the first generation
  $("generate").hidden = !offered;
  $("generate-hint").hidden = !offered;
  if (!offered) return;
  timeline.layer = Math.floor(model.layers / 2);
  timeline.head = MEAN;
  $("timeline-layer").replaceChildren(
    ...Array.from({ length: model.layers }, (_, layer) =>
      el("option", { value: String(layer), text: String(layer), selected: layer === timeline.layer }),
    ),
  );
  $("timeline-head").replaceChildren(
    el("option", { value: MEAN, text: "mean over heads", selected: true }),
    ...Array.from({ length: model.heads }, (_, head) => el("option", { value: String(head), text: String(head) })),
  );
  setState("idle", "Press “Generate step by step”.");
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
  node.addEventListener("click", () => select(step));
  return node;
}

function onStart(data) {
  timeline.prompt = data.prompt;
  timeline.budget = data.max_new_tokens;
  timeline.tokenNodes = data.prompt.map((token, i) => tokenNode(token, i));
  $("timeline-tokens").replaceChildren(...timeline.tokenNodes);
  setState("streaming", `Writing… 0 of up to ${count(timeline.budget, "token")}`);
}

function onStep(data) {
  const { steps } = timeline;
  steps.push(data);
  const node = tokenNode(data.token, data.query + 1, data.step);
  timeline.tokenNodes.push(node);
  $("timeline-tokens").append(node);
  const slider = $("timeline-step");
  slider.disabled = false;
  slider.max = String(steps.length - 1);
  if (timeline.follow) select(steps.length - 1, { follow: true });
  else scheduleDraw(); // the axis grows with every token written
  setState("streaming", `Writing… ${steps.length} of up to ${count(timeline.budget, "token")}`);
}

function onDone(data) {
  const written = count(timeline.steps.length, "token");
  setState("done", `Done: ${written} written; ${STOPS[data.stop] ?? data.stop}.`);
}

// Streams a generation of `model` from `text` into the panel; any stream in flight stops.
export async function startGeneration(model, text) {
  cancelGeneration();
  clear();
  $("timeline-panel").hidden = false;
  const controller = new AbortController();
  timeline.controller = controller;
  setState("streaming", `Waiting for ${model.name}…`);
  let finished = false;
  const onEvent = (name, data) => {
    if (timeline.controller !== controller) return; // superseded; its last bytes are still arriving
    if (name === "start") onStart(data);
    else if (name === "step") onStep(data);
    else if (name === "done") {
      finished = true;
      onDone(data);
    } else if (name === "error") {
      finished = true;
      showError(data.detail);
      setState("error", `Stopped after ${count(timeline.steps.length, "token")}: the server reported an error.`);
    }
  };
  try {
    await streamGeneration({ model: model.id, text, encoding: "float16" }, { signal: controller.signal, onEvent });
    if (!finished && timeline.controller === controller) {
      showError("The stream ended before the model finished. Has the server stopped?");
      setState("error", `Stopped after ${count(timeline.steps.length, "token")}.`);
    }
  } catch (error) {
    if (error.name === "AbortError" || timeline.controller !== controller) return;
    showError(error.message);
    setState("error", "Nothing was written.");
  } finally {
    if (timeline.controller === controller) timeline.controller = null;
  }
}

function select(step, { follow = false } = {}) {
  timeline.step = step;
  timeline.follow = follow || (timeline.controller !== null && step === timeline.steps.length - 1);
  $("timeline-step").value = String(step);
  scheduleDraw();
}

// Draws at most once a frame: tokens may arrive faster than Plotly redraws.
function scheduleDraw() {
  if (timeline.frame) return;
  timeline.frame = requestAnimationFrame(() => {
    timeline.frame = 0;
    draw();
  });
}

// The row of one layer for one head, or the mean over heads, from [layers, heads, keys].
function row(rows, [, heads, keys], layer, head) {
  const start = layer * heads * keys;
  if (head !== MEAN) return rows.slice(start + head * keys, start + (head + 1) * keys);
  const mean = new Float32Array(keys);
  for (let h = 0; h < heads; h += 1) {
    for (let k = 0; k < keys; k += 1) mean[k] += rows[start + h * keys + k] / heads;
  }
  return mean;
}

// Every position labelled; those written after the step on show (`writes`) greyed out.
function ticks(tokens, writes) {
  const every = Math.ceil(tokens.length / MAX_TICKS);
  const values = [];
  const labels = [];
  for (let i = 0; i < tokens.length; i += every) {
    const label = plotlyText(tokens[i].text);
    values.push(i);
    labels.push(i > writes ? `<span style="color:#b0b6c2">${label}</span>` : label);
  }
  return { tickmode: "array", tickvals: values, ticktext: labels };
}

// Each bar in the heatmaps' colour for its weight, scaled to the row's maximum.
function barColors(weights, max) {
  return weights.map((weight) => {
    const c = Math.round((max > 0 ? weight / max : 0) * 255) * 3;
    return `rgb(${VIRIDIS[c]},${VIRIDIS[c + 1]},${VIRIDIS[c + 2]})`;
  });
}

function markTokens(query, writes) {
  timeline.tokenNodes.forEach((node, position) => {
    node.classList.toggle("reads", position === query);
    node.classList.toggle("writes", position === writes);
  });
}

function draw() {
  const { steps, prompt } = timeline;
  const step = steps[timeline.step];
  if (!step || !window.Plotly) return;
  if (timeline.decoded?.step !== step) timeline.decoded = { step, rows: fromWire(step).data };
  const weights = Array.from(row(timeline.decoded.rows, step.shape, timeline.layer, timeline.head));
  const tokens = [...prompt, ...steps.map((s) => s.token)];
  const keys = weights.length; // positions 0 .. query
  const writes = step.query + 1;
  const max = Math.max(...weights);
  const headText = timeline.head === MEAN ? "mean over heads" : `head ${timeline.head}`;
  const quoted = (token) => `“${token.text}”`;

  $("timeline-step-label").textContent = `t = ${timeline.step}: ${quoted(step.token)}, token ${timeline.step + 1} of ${steps.length}`;
  $("timeline-caption").textContent =
    `Step ${timeline.step}: reading ${quoted(tokens[step.query])} (position ${step.query}) last, the model writes ` +
    `${quoted(step.token)}. The bars are that position's attention over positions 0–${step.query}, layer ${timeline.layer}, ${headText}.`;
  markTokens(step.query, writes);

  const trace = {
    type: "bar",
    x: weights.map((_, i) => i),
    y: weights,
    marker: { color: barColors(weights, max) },
    text: tokens.slice(0, keys).map((token, i) => `${plotlyText(token.text)} (${i})`),
    textposition: "none",
    hovertemplate: "%{text}<br>weight %{y:.4f}<extra></extra>",
  };
  // Upright labels only while every position of the axis has room for one.
  const shortLabels = tokens.length <= 16 && tokens.every((token) => token.text.length <= 8);
  const layout = {
    height: 340,
    margin: { l: 60, r: 20, t: 30, b: 110 },
    bargap: 0.15,
    xaxis: {
      ...ticks(tokens, writes),
      range: [-0.5, tokens.length - 0.5],
      tickangle: shortLabels ? 0 : -60,
      title: { text: "position read (the token written shaded; grey: written later)" },
    },
    yaxis: { title: { text: "weight" }, rangemode: "tozero" },
    font: { family: FONT_FAMILY, size: 12 },
    shapes: [
      // The token this step writes: it reads nothing yet, it is the step's outcome.
      {
        type: "rect",
        xref: "x",
        yref: "paper",
        x0: writes - 0.5,
        x1: writes + 0.5,
        y0: 0,
        y1: 1,
        fillcolor: "#fdeee9",
        line: { color: "#e4572e", width: 1 },
        layer: "below",
      },
      // Where the prompt ends and the written tokens begin.
      {
        type: "line",
        xref: "x",
        yref: "paper",
        x0: prompt.length - 0.5,
        x1: prompt.length - 0.5,
        y0: 0,
        y1: 1,
        line: { color: "#5b6475", width: 1, dash: "dot" },
      },
    ],
    annotations: [
      {
        xref: "x",
        yref: "paper",
        x: writes,
        y: 1,
        yanchor: "bottom",
        text: `writes ${plotlyText(quoted(step.token))}`,
        showarrow: false,
        font: { color: "#e4572e" },
      },
    ],
  };
  window.Plotly.react($("timeline-strip"), [trace], layout, { responsive: true, displaylogo: false });
  Object.assign($("timeline-strip").dataset, {
    step: String(timeline.step),
    layer: String(timeline.layer),
    head: String(timeline.head),
    keys: String(keys),
  });
}

export function bindTimeline() {
  $("timeline-step").addEventListener("input", (e) => select(Number(e.target.value)));
  $("timeline-layer").addEventListener("change", (e) => {
    timeline.layer = Number(e.target.value);
    scheduleDraw();
  });
  $("timeline-head").addEventListener("change", (e) => {
    timeline.head = e.target.value === MEAN ? MEAN : Number(e.target.value);
    scheduleDraw();
  });
  $("timeline-stop").addEventListener("click", () => cancelGeneration());
}
