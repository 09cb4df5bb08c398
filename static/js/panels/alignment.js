// Word alignment of the cross-attention on show: POST /api/v1/align for the same run, read
// as links, drawn as marks on the heatmap and solid lines in the line view, and scored
// against a gold alignment the user pastes (precision, recall, AER).

import { postJson } from "./api.js";
import { el } from "./text.js";

const $ = (id) => document.getElementById(id);

const METHOD_NAMES = {
  argmax: "argmax",
  threshold: "weight ≥ threshold",
  union: "argmax both ways",
  grow_diag: "grow-diag of both ways",
  shift_att: "shift-att",
};

// The links' indices skip special tokens; the heatmap may show them. Position n of the
// alignment's list is the n-th label that is not special.
function displayIndex(special) {
  const positions = [];
  special.forEach((isSpecial, i) => {
    if (!isSpecial) positions.push(i);
  });
  return positions;
}

function describe(body) {
  const head = body.head == null ? "mean over heads" : `head ${body.head}`;
  const threshold = body.method === "threshold" ? ` ${body.threshold}` : "";
  const chosen = {
    dev_gold: " (the setting that scored best on this model's dev gold set)",
    default: " (this model was never scored: the default setting)",
    request: "",
  }[body.chosen_by];
  return `${METHOD_NAMES[body.method]}${threshold}, layer ${body.layer}, ${head}${chosen}`;
}

function showScores(scores) {
  const line = $("align-scores");
  if (!scores) {
    line.replaceChildren();
    return;
  }
  const pct = (value) => value.toFixed(3);
  line.replaceChildren(
    el("strong", { text: `AER ${pct(scores.aer)}` }),
    ` · precision ${pct(scores.precision)} · recall ${pct(scores.recall)} · ${scores.predicted} links, ${scores.sure} sure and ${scores.possible - scores.sure} possible gold links`,
  );
}

export function alignmentShown(block) {
  return block.kind === "cross_attn";
}

export function resetAlignment() {
  $("align-panel").hidden = true;
  $("align-links").textContent = "";
  showScores(null);
}

// The links of `shown` (the heatmap's run, layer and head) as [row, col] of the heatmap, or
// null when none are asked for; the panel says what was read and, with a gold, its scores.
export async function alignmentMarks(shown, body) {
  const panel = $("align-panel");
  panel.hidden = false;
  const method = $("align-method").value;
  if (method === "off") {
    $("align-links").textContent = "No links drawn.";
    showScores(null);
    return null;
  }
  const request = { model: shown.model, text: shown.text, granularity: shown.options.granularity };
  if (shown.variant) request.variant = shown.variant;
  if (shown.target) request.target = shown.target;
  request.method = method;
  if (method !== "best") {
    request.layer = shown.layer;
    if (shown.head !== "mean") request.head = shown.head;
    if (method === "threshold") request.threshold = Number($("align-threshold").value);
  }
  const gold = $("align-gold").value.trim();
  let aligned;
  let goldProblem = null;
  try {
    aligned = await postJson("/api/v1/align", gold ? { ...request, gold } : request);
  } catch (error) {
    if (!gold) {
      $("align-links").textContent = `No links: ${error.message}`;
      showScores(null);
      return null;
    }
    // The gold was refused (a typo, an index out of range): the links still show.
    goldProblem = error.message;
    try {
      aligned = await postJson("/api/v1/align", request);
    } catch (again) {
      $("align-links").textContent = `No links: ${again.message}`;
      showScores(null);
      return null;
    }
  }
  const block = shown.block;
  const rows = displayIndex(body.special[block.rows]);
  const cols = displayIndex(body.special[block.cols]);
  $("align-links").replaceChildren(
    `Links from ${describe(aligned)}: `,
    el("code", { text: aligned.pharaoh || "(none)" }),
    " (Pharaoh, source index first, special tokens not counted)",
  );
  if (goldProblem) $("align-scores").textContent = `Gold not scored: ${goldProblem}`;
  else showScores(aligned.scores);
  panel.dataset.pharaoh = aligned.pharaoh;
  return aligned.links.map(([t, s]) => [rows[t], cols[s]]);
}

export function bindAlignment(redraw) {
  $("align-method").addEventListener("change", () => {
    $("align-threshold-label").hidden = $("align-method").value !== "threshold";
    redraw();
  });
  $("align-threshold").addEventListener("change", redraw);
  $("align-form").addEventListener("submit", (event) => {
    event.preventDefault();
    redraw();
  });
}
