// The kernel regression lesson: fit plot, attention-weight heatmap, and the Train animation.

import { FONT_FAMILY } from "../text.js";
import { kernelWeights } from "./kernel.js";
import { postJson, wholeNumber } from "./post.js";

const $ = (id) => document.getElementById(id);
const ENDPOINT = "/api/v1/kernel-regression";
const ANIMATION_MS = 3000; // the whole Train animation, whatever the number of epochs
const MAX_FRAMES = 40; // more epochs than this: every n-th is drawn (and always the last)
const PLOT_CONFIG = { responsive: true, displaylogo: false };
const FONT = { family: FONT_FAMILY, size: 12 };

const state = {
  kind: "nonparametric",
  base: null, // the w = 1 response for the current data
  ticket: 0, // bumped by every new request or animation; stale ones stop
  controller: null,
};

function showError(message) {
  $("error").textContent = message;
  $("error").hidden = !message;
}

function setReadout(text, { trainedW = null } = {}) {
  $("readout").textContent = text;
  if (trainedW === null) {
    delete $("readout").dataset.state;
    delete $("readout").dataset.w;
  } else {
    $("readout").dataset.state = "trained";
    $("readout").dataset.w = String(trainedW);
  }
}

function drawFit(data, yPred, w) {
  const traces = [
    {
      type: "scatter",
      mode: "markers",
      name: "training points (x_i, y_i)",
      x: data.x_train,
      y: data.y_train,
      marker: { size: 6, color: "rgba(59, 76, 202, 0.45)" },
      hovertemplate: "x_i = %{x:.3f}<br>y_i = %{y:.3f}<extra></extra>",
    },
    {
      type: "scatter",
      mode: "lines",
      name: "true f(x)",
      x: data.x_test,
      y: data.y_true,
      line: { color: "#5b6475", dash: "dash" },
      hovertemplate: "x = %{x:.1f}<br>f(x) = %{y:.3f}<extra></extra>",
    },
    {
      type: "scatter",
      mode: "lines",
      name: `prediction (w = ${w.toFixed(3)})`,
      x: data.x_test,
      y: yPred,
      line: { color: "#e4572e", width: 3 },
      hovertemplate: "x = %{x:.1f}<br>prediction %{y:.3f}<extra></extra>",
    },
  ];
  const layout = {
    height: 380,
    margin: { l: 50, r: 10, t: 10, b: 45 },
    xaxis: { title: { text: "x" }, range: [0, 5] },
    yaxis: { title: { text: "y" } },
    legend: { orientation: "h", y: -0.2 },
    font: FONT,
  };
  window.Plotly.react($("fit-plot"), traces, layout, PLOT_CONFIG);
}

// zmax: fixed during the Train animation, so the sharpening shows as brightening too.
function drawWeights(data, weights, zmax = undefined) {
  const trace = {
    type: "heatmap",
    z: weights,
    x: data.x_train,
    y: data.x_test,
    zmin: 0,
    zmax,
    colorscale: "Viridis",
    colorbar: { title: { text: "weight" }, thickness: 14 },
    hovertemplate: "query x = %{y:.1f}<br>key x_i = %{x:.3f}<br>weight %{z:.4f}<extra></extra>",
  };
  const layout = {
    height: 380,
    margin: { l: 60, r: 10, t: 10, b: 45 },
    xaxis: { title: { text: "key: training input x_i" } },
    yaxis: { title: { text: "query: test input x" }, autorange: "reversed" },
    font: FONT,
  };
  window.Plotly.react($("weights-plot"), [trace], layout, PLOT_CONFIG);
}

function drawHistory(history, upTo, epochs) {
  const shown = history.slice(0, upTo + 1);
  const epochAxis = shown.map((e) => e.epoch);
  const traces = [
    {
      type: "scatter",
      mode: "lines+markers",
      name: "leave-one-out loss",
      x: epochAxis,
      y: shown.map((e) => e.loss),
      line: { color: "#3b4cca" },
      hovertemplate: "epoch %{x}<br>loss %{y:.4f}<extra></extra>",
    },
    {
      type: "scatter",
      mode: "lines+markers",
      name: "w",
      x: epochAxis,
      y: shown.map((e) => e.w),
      yaxis: "y2",
      line: { color: "#e4572e" },
      hovertemplate: "epoch %{x}<br>w = %{y:.4f}<extra></extra>",
    },
  ];
  const losses = history.map((e) => e.loss);
  const ws = history.map((e) => e.w);
  const pad = (lo, hi) => [lo - 0.05 * (hi - lo || 1), hi + 0.05 * (hi - lo || 1)];
  const layout = {
    height: 240,
    margin: { l: 60, r: 60, t: 10, b: 40 },
    xaxis: { title: { text: "epoch" }, range: [-0.5, epochs + 0.5] },
    yaxis: { title: { text: "loss" }, range: pad(Math.min(...losses), Math.max(...losses)) },
    yaxis2: {
      title: { text: "w" },
      overlaying: "y",
      side: "right",
      range: pad(Math.min(...ws), Math.max(...ws)),
    },
    legend: { orientation: "h", y: 1.15 },
    font: FONT,
  };
  window.Plotly.react($("history-plot"), traces, layout, PLOT_CONFIG);
}

function readInputs() {
  return {
    n_train: wholeNumber($("n-train"), "Training points"),
    seed: wholeNumber($("seed"), "Seed"),
  };
}

function showUntrained(base) {
  drawFit(base, base.y_pred, base.w);
  drawWeights(base, base.weights);
  $("history").hidden = true;
  if (state.kind === "parametric") {
    setReadout("w = 1: untrained, the same as the non-parametric model. Press Train to learn w.");
  } else {
    setReadout("w = 1, fixed: nothing is learned.");
  }
}

function startRequest() {
  state.ticket += 1;
  state.controller?.abort();
  state.controller = new AbortController();
  showError("");
  return { ticket: state.ticket, signal: state.controller.signal };
}

async function load() {
  let inputs;
  try {
    inputs = readInputs();
  } catch (error) {
    showError(error.message);
    return;
  }
  const { ticket, signal } = startRequest();
  $("train").disabled = false;
  try {
    const base = await postJson(ENDPOINT, { kind: "nonparametric", ...inputs }, signal);
    if (ticket !== state.ticket) return;
    state.base = base;
    showUntrained(base);
    document.body.dataset.ready = "true";
  } catch (error) {
    if (error.name !== "AbortError") showError(error.message);
  }
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function train() {
  let payload;
  try {
    payload = {
      kind: "parametric",
      ...readInputs(),
      epochs: wholeNumber($("epochs"), "Epochs"),
      learning_rate: Number($("learning-rate").value),
    };
  } catch (error) {
    showError(error.message);
    return;
  }
  const { ticket, signal } = startRequest();
  $("train").disabled = true;
  setReadout("Training…");
  try {
    const fit = await postJson(ENDPOINT, payload, signal);
    if (ticket !== state.ticket) return;
    await animate(fit, ticket);
  } catch (error) {
    if (error.name !== "AbortError") showError(error.message);
  } finally {
    if (ticket === state.ticket) $("train").disabled = false;
  }
}

function frameIndices(count) {
  const stride = Math.ceil(count / MAX_FRAMES);
  const indices = [];
  for (let i = 0; i < count - 1; i += stride) indices.push(i);
  indices.push(count - 1);
  return indices;
}

async function animate(fit, ticket) {
  const { history, epochs } = fit;
  const frames = frameIndices(history.length);
  const frameMs = Math.min(120, ANIMATION_MS / frames.length);
  const zmax = Math.max(...fit.weights.map((row) => Math.max(...row)));
  $("history").hidden = false;
  for (const index of frames) {
    if (ticket !== state.ticket) return;
    const step = history[index];
    // Each frame draws the weights of that epoch's w with the server's formula; the
    // prediction curve is the server's own for that epoch.
    drawFit(fit, step.y_pred, step.w);
    drawWeights(fit, kernelWeights(fit.x_test, fit.x_train, step.w), zmax);
    drawHistory(history, index, epochs);
    setReadout(`epoch ${step.epoch} / ${epochs} · w = ${step.w.toFixed(3)} · loss = ${step.loss.toFixed(4)}`);
    await sleep(frameMs);
  }
  if (ticket !== state.ticket) return;
  drawFit(fit, fit.y_pred, fit.w);
  drawWeights(fit, fit.weights, zmax);
  const first = history[0];
  const last = history[history.length - 1];
  setReadout(
    `Trained: learned w = ${fit.w.toFixed(3)} after ${epochs} epochs · ` +
      `leave-one-out loss ${first.loss.toFixed(4)} → ${last.loss.toFixed(4)}`,
    { trainedW: fit.w },
  );
}

function selectKind(kind) {
  state.kind = kind;
  for (const tab of document.querySelectorAll("#kind-tabs .tab")) {
    tab.setAttribute("aria-selected", String(tab.dataset.kind === kind));
  }
  $("training-controls").hidden = kind !== "parametric";
  load();
}

function start() {
  for (const tab of document.querySelectorAll("#kind-tabs .tab")) {
    tab.addEventListener("click", () => selectKind(tab.dataset.kind));
  }
  $("n-train").addEventListener("change", load);
  $("seed").addEventListener("change", load);
  $("train").addEventListener("click", train);
  load();
}

// Plotly is a deferred classic script; module scripts run after it, so it is ready here.
start();
