// The scoring lesson: additive and scaled dot-product weights side by side, under one mask.

import { FONT_FAMILY, el } from "../text.js";
import { postJson, wholeNumber } from "./post.js";

const $ = (id) => document.getElementById(id);
const ENDPOINT = "/api/v1/scoring";
const TEXT_IN_CELLS_UP_TO = 12; // keys (and queries); beyond this the numbers would not fit
const PLOT_CONFIG = { responsive: true, displaylogo: false };
const FONT = { family: FONT_FAMILY, size: 12 };

const SIZE_INPUTS = [
  ["n_queries", "n-queries", "Queries"],
  ["n_keys", "n-keys", "Keys"],
  ["query_size", "query-size", "Query size"],
  ["key_size", "key-size", "Key size"],
  ["hidden_size", "hidden-size", "Hidden size"],
  ["seed", "seed", "Seed"],
];

const VIEWS = {
  weights: { label: "weight", colorscale: "Viridis", diverging: false },
  masked_scores: { label: "masked score", colorscale: "RdBu", diverging: true },
  scores: { label: "raw score", colorscale: "RdBu", diverging: true },
};

const state = { body: null, ticket: 0, controller: null };

function showError(message) {
  $("error").textContent = message;
  $("error").hidden = !message;
}

const isMasked = (body, q, j) => j >= body.valid_lengths[q];

function cellText(body, scorer, view, q, j) {
  if (view === "weights") return isMasked(body, q, j) ? "0" : scorer.weights[q][j].toFixed(3);
  if (view === "masked_scores" && isMasked(body, q, j)) return "−∞";
  return scorer.scores[q][j].toFixed(2);
}

function hoverText(body, scorer, q, j) {
  const masked = isMasked(body, q, j);
  const score = scorer.scores[q][j].toFixed(4);
  const weight = masked ? "0 (exactly)" : scorer.weights[q][j].toFixed(6);
  const scoreLine = masked ? `score ${score} → masked to −∞` : `score ${score}`;
  return `query ${q} → key ${j}<br>${scoreLine}<br>weight ${weight}`;
}

function maskShapes(body) {
  const nKeys = body.n_keys;
  const shapes = [];
  body.valid_lengths.forEach((length, q) => {
    if (length >= nKeys) return;
    const row = { yref: "y", xref: "x", y0: q - 0.5, y1: q + 0.5 };
    shapes.push({
      ...row,
      type: "rect",
      x0: length - 0.5,
      x1: nKeys - 0.5,
      fillcolor: "rgba(244, 246, 250, 0.45)",
      line: { width: 0 },
      layer: "above",
    });
    shapes.push({
      ...row,
      type: "line",
      x0: length - 0.5,
      x1: length - 0.5,
      line: { color: "#e4572e", width: 3 },
      layer: "above",
    });
  });
  return shapes;
}

function indexTicks(count, prefix) {
  const values = [...Array(count).keys()];
  return { tickmode: "array", tickvals: values, ticktext: values.map((i) => `${prefix}${i}`) };
}

function drawScorer(div, body, scorer, view) {
  const nQ = body.n_queries;
  const nK = body.n_keys;
  const rows = [...Array(nQ).keys()];
  const cols = [...Array(nK).keys()];
  const style = VIEWS[view];
  const z = scorer[view];
  const trace = {
    type: "heatmap",
    z,
    x: cols,
    y: rows,
    colorscale: style.colorscale,
    colorbar: { title: { text: style.label }, thickness: 14 },
    xgap: 1,
    ygap: 1,
    customdata: rows.map((q) => cols.map((j) => hoverText(body, scorer, q, j))),
    hovertemplate: "%{customdata}<extra></extra>",
  };
  if (style.diverging) trace.zmid = 0;
  else trace.zmin = 0;
  if (nK <= TEXT_IN_CELLS_UP_TO && nQ <= TEXT_IN_CELLS_UP_TO) {
    trace.text = rows.map((q) => cols.map((j) => cellText(body, scorer, view, q, j)));
    trace.texttemplate = "%{text}";
    trace.textfont = { size: 11 };
  }
  const layout = {
    height: Math.max(240, nQ * 40 + 120),
    margin: { l: 50, r: 10, t: 10, b: 50 },
    xaxis: { ...indexTicks(nK, "k"), title: { text: "key" }, zeroline: false, showgrid: false },
    yaxis: {
      ...indexTicks(nQ, "q"),
      title: { text: "query" },
      autorange: "reversed",
      zeroline: false,
      showgrid: false,
    },
    shapes: maskShapes(body),
    font: FONT,
  };
  window.Plotly.react(div, [trace], layout, PLOT_CONFIG);
}

// The checks a learner would do by hand: masked weights are 0, every row sums to 1.
function summarize(body) {
  const scorers = [body.additive, body.scaled_dot_product].filter(Boolean);
  let maskedTotal = 0;
  let worstRow = 0;
  for (const scorer of scorers) {
    scorer.weights.forEach((row, q) => {
      row.forEach((weight, j) => {
        if (isMasked(body, q, j)) maskedTotal += weight;
      });
      worstRow = Math.max(worstRow, Math.abs(row.reduce((a, b) => a + b, 0) - 1));
    });
  }
  const lengths = new Set(body.valid_lengths);
  const length = body.valid_lengths[0];
  const masking =
    lengths.size === 1 && length === body.n_keys
      ? "No key is masked."
      : lengths.size === 1
        ? `Keys k${length}…k${body.n_keys - 1} are masked; their weights add up to exactly ${maskedTotal}.`
        : `Valid lengths per query: ${body.valid_lengths.join(", ")}; masked weights add up to exactly ${maskedTotal}.`;
  return `${masking} Every row sums to 1 (largest deviation ${worstRow.toExponential(1)}).`;
}

function table(title, matrix, rowPrefix) {
  const rows = Array.isArray(matrix[0]) ? matrix : [matrix];
  const width = rows[0].length;
  const head = el("tr", {}, [
    el("th", { text: "" }),
    ...[...Array(width).keys()].map((i) => el("th", { text: String(i) })),
  ]);
  const body = rows.map((row, r) =>
    el("tr", {}, [
      el("th", { text: `${rowPrefix}${r}` }),
      ...row.map((value) => el("td", { text: value.toFixed(3) })),
    ]),
  );
  return [el("h3", { text: title }), el("table", {}, [el("thead", {}, [head]), el("tbody", {}, body)])];
}

function drawNumbers(body) {
  const { parameters } = body.additive;
  const parts = [
    ...table(`Queries [${body.n_queries} × ${body.query_size}]`, body.queries, "q"),
    ...table(`Keys [${body.n_keys} × ${body.key_size}]`, body.keys, "k"),
    ...table(`Values [${body.n_keys} × ${body.value_size}]`, body.values, "v"),
    ...table(`Additive W_q [${body.hidden_size} × ${body.query_size}] (random, untrained)`, parameters.w_q, ""),
    ...table(`Additive W_k [${body.hidden_size} × ${body.key_size}] (random, untrained)`, parameters.w_k, ""),
    ...table(`Additive w_v [${body.hidden_size}] (random, untrained)`, parameters.w_v, ""),
    ...table("Additive output: weights @ values", body.additive.output, "q"),
  ];
  if (body.scaled_dot_product) {
    parts.push(...table("Scaled dot-product output: weights @ values", body.scaled_dot_product.output, "q"));
  }
  $("numbers-body").replaceChildren(...parts);
}

function render() {
  const { body } = state;
  const view = $("view").value;
  drawScorer($("additive-plot"), body, body.additive, view);
  const dot = body.scaled_dot_product;
  $("dot-product-plot").hidden = !dot;
  $("dot-product-unavailable").hidden = Boolean(dot);
  if (dot) {
    drawScorer($("dot-product-plot"), body, dot, view);
  } else {
    window.Plotly.purge($("dot-product-plot"));
    $("dot-product-unavailable").textContent =
      `A dot product needs queries and keys of one length; here the query size is ${body.query_size} ` +
      `and the key size ${body.key_size}. Additive attention still works: it projects both to ` +
      `h = ${body.hidden_size} first.`;
  }
  $("summary").textContent = summarize(body);
  drawNumbers(body);
}

function readPayload() {
  const payload = {};
  for (const [field, id, label] of SIZE_INPUTS) payload[field] = wholeNumber($(id), label);
  const slider = $("valid-length");
  slider.max = String(payload.n_keys);
  if (Number(slider.value) > payload.n_keys) slider.value = String(payload.n_keys);
  $("valid-length-value").textContent = slider.value;
  payload.valid_length = Number(slider.value);
  return payload;
}

async function load() {
  let payload;
  try {
    payload = readPayload();
  } catch (error) {
    showError(error.message);
    return;
  }
  state.ticket += 1;
  const ticket = state.ticket;
  state.controller?.abort();
  state.controller = new AbortController();
  try {
    const body = await postJson(ENDPOINT, payload, state.controller.signal);
    if (ticket !== state.ticket) return;
    showError("");
    state.body = body;
    render();
    document.body.dataset.ready = "true";
  } catch (error) {
    if (error.name !== "AbortError") showError(error.message);
  }
}

function start() {
  $("valid-length").addEventListener("input", load);
  for (const [, id] of SIZE_INPUTS) $(id).addEventListener("change", load);
  $("view").addEventListener("change", () => state.body && render());
  load();
}

// Plotly is a deferred classic script; module scripts run after it, so it is ready here.
start();
