// The standalone report (GET /api/v1/report): the run embedded in this file, drawn with the
// page's own heatmap and line view. The server inlines this module and the modules it imports
// (app/report/bundle.py), so it reads nothing from the network. Token text goes into the DOM
// as text and reaches Plotly escaped (heatmap.js), as on the page.

import { MEAN, fromWire, groupByLabel, listName, matrix, rowTotals } from "./blocks.js";
import { drawHeatmap } from "./heatmap.js";
import { drawLines } from "./lines.js";
import { combinedEntry, describeOptions } from "./options.js";
import { el } from "./text.js";

const $ = (id) => document.getElementById(id);
const readJson = (id) => JSON.parse($(id).textContent);

const body = readJson("attention-data"); // the /attention response of this run, as it was sent
const { max_size: maxSize } = readJson("report-meta"); // set when every matrix is pooled
const groups = groupByLabel(body.blocks.map(fromWire));
const combined = combinedEntry(body.options);
// The last group the response lists opens first: for a translator, cross-attention.
const state = { group: groups.at(-1), layer: groups.at(-1).blocks[0].layer, head: MEAN };

// The labels of an axis pooled into `length` groups of consecutive tokens, grouped as
// app/attention/ops/pool.py groups them: the positions of each group's first and last token
// (the token list above gives each token's position on hover).
function axisLabels(tokens, length) {
  if (length === tokens.length) return tokens;
  const step = Math.max(1, Math.ceil(tokens.length / maxSize));
  const labels = [];
  for (let start = 0; start < tokens.length; start += step) {
    const end = Math.min(start + step, tokens.length) - 1;
    labels.push(start === end ? String(start) : `${start}–${end}`);
  }
  return labels;
}

// Every token list of the run, once: a decoder's target and target input are the same list.
function renderTokens() {
  const shown = [];
  const sections = [];
  for (const [name, tokens] of Object.entries(body.tokens)) {
    const key = JSON.stringify(tokens);
    if (!tokens.length || shown.includes(key)) continue;
    shown.push(key);
    const special = body.special[name];
    const chips = tokens.map((token, i) =>
      el("span", { className: special[i] ? "token special" : "token", text: token, title: `${listName(name)}, position ${i}` }),
    );
    sections.push(
      el("h3", { text: `${listName(name)} (${tokens.length})` }),
      el("div", { className: "token-list", dataset: { list: name } }, chips),
    );
  }
  $("report-tokens").replaceChildren(...sections);
}

function shownBlock() {
  return state.group.blocks.find((b) => b.layer === state.layer);
}

function renderTabs() {
  const tabs = groups.map((group) => {
    const tab = el("button", {
      type: "button",
      role: "tab",
      className: "tab",
      text: group.label,
      ariaSelected: String(group === state.group),
    });
    tab.addEventListener("click", () => {
      state.group = group;
      render();
    });
    return tab;
  });
  $("block-tabs").replaceChildren(...tabs);
}

function renderSelectors() {
  const layers = state.group.blocks.map((b) => b.layer);
  if (!layers.includes(state.layer)) state.layer = layers[0];
  $("layer").replaceChildren(
    ...layers.map((layer) => el("option", { value: String(layer), text: String(layer), selected: layer === state.layer })),
  );
  const select = $("head");
  select.disabled = Boolean(combined);
  if (combined) {
    select.replaceChildren(el("option", { value: MEAN, text: combined, selected: true }));
    return;
  }
  const { heads } = shownBlock();
  if (state.head !== MEAN && !heads.includes(state.head)) state.head = MEAN;
  select.replaceChildren(
    el("option", { value: MEAN, text: "mean over heads", selected: state.head === MEAN }),
    ...heads.map((head) => el("option", { value: String(head), text: String(head), selected: head === state.head })),
  );
}

function viewCaption(head) {
  let entry = head === MEAN ? "mean over heads" : `head ${head}`;
  if (body.options.aggregate === "rollout") entry = `rollout through layers 0–${state.layer}, heads averaged per layer`;
  const rows =
    body.options.weighting === "value_norm"
      ? "Each row is a query: α·‖f(x)‖ for every key, scaled to sum to 1."
      : "Each row is a query and sums to 1.";
  return `${state.group.label}, layer ${state.layer}, ${entry}. ${rows}`;
}

function renderViews() {
  const block = shownBlock();
  const head = combined ? MEAN : state.head;
  const position = head === MEAN ? MEAN : block.heads.indexOf(head);
  const z = matrix(block, position);
  const [, rows, cols] = block.shape;
  const rowTokens = axisLabels(body.tokens[block.rows], rows);
  const colTokens = axisLabels(body.tokens[block.cols], cols);
  drawHeatmap($("heatmap"), {
    z,
    rowTokens,
    colTokens,
    rowTitle: `query (${listName(block.rows)})`,
    colTitle: `key (${listName(block.cols)})`,
    rowTotals: rowTotals(block, position),
    hoverLine: $("heatmap-hover"),
  });
  if (block.pooled_from) {
    $("lines").replaceChildren(
      el("p", { className: "caption", text: "The line view joins single tokens; this block is pooled (see Pooled above)." }),
    );
  } else {
    drawLines($("lines"), { z, rowTokens, colTokens, rowsName: block.rows, colsName: block.cols });
  }
  $("view-caption").textContent = viewCaption(head);
  for (const view of [$("heatmap"), $("lines")]) {
    Object.assign(view.dataset, { block: block.name, layer: String(state.layer), head: String(head) });
  }
}

function render() {
  renderTabs();
  renderSelectors();
  renderViews();
}

$("layer").addEventListener("change", (event) => {
  state.layer = Number(event.target.value);
  render();
});
$("head").addEventListener("change", (event) => {
  state.head = event.target.value === MEAN ? MEAN : Number(event.target.value);
  render();
});
$("options-caption").textContent = describeOptions(body.options);
renderTokens();
render();
document.body.dataset.ready = "true";
