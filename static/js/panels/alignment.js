// The word alignment panel, for a block that reads as an alignment: which links were read
// (POST /api/v1/align for the run, layer and head on show; shown.js fetches them) and, against
// a gold alignment the user pastes, their precision, recall and AER. The heatmap marks the
// links and the line view draws them solid.

import { el } from "../text.js";

const $ = (id) => document.getElementById(id);

export const watches = ["shown"];

const METHOD_NAMES = {
  argmax: "argmax",
  threshold: "weight ≥ threshold",
  union: "argmax both ways",
  grow_diag: "grow-diag of both ways",
  shift_att: "shift-att",
};

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

// What the controls ask for: the method, its threshold, the gold to score against.
function settings() {
  return {
    method: $("align-method").value,
    threshold: Number($("align-threshold").value),
    gold: $("align-gold").value.trim(),
  };
}

// Every change of the controls (and each press of Score) asks for the links again.
export function bind(store) {
  const ask = () => store.set({ align: settings() });
  $("align-method").addEventListener("change", () => {
    $("align-threshold-label").hidden = $("align-method").value !== "threshold";
    ask();
  });
  $("align-threshold").addEventListener("change", ask);
  $("align-form").addEventListener("submit", (event) => {
    event.preventDefault();
    ask();
  });
  ask();
}

export function render({ shown }) {
  if (!shown) return;
  const panel = $("align-panel");
  const { alignment } = shown;
  panel.hidden = !alignment;
  let problem = null;
  if (!alignment) problem = "";
  else if (alignment.off) problem = "No links drawn.";
  else if (alignment.error) problem = `No links: ${alignment.error}`;
  if (problem !== null) {
    $("align-links").textContent = problem;
    showScores(null);
    return;
  }
  const { aligned, goldProblem } = alignment;
  $("align-links").replaceChildren(
    `Links from ${describe(aligned)}: `,
    el("code", { text: aligned.pharaoh || "(none)" }),
    " (Pharaoh, source index first, special tokens not counted)",
  );
  if (goldProblem) $("align-scores").textContent = `Gold not scored: ${goldProblem}`;
  else showScores(aligned.scores);
  panel.dataset.pharaoh = aligned.pharaoh;
}
