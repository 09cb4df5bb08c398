// The download bars under the heatmap, the line view and the overview: each file is made in the
// browser from what is on show.

import { bindExportBar, fileName } from "../download.js";
import { overviewJson, viewCsv, viewJson } from "../export-data.js";
import { linesPng, linesSvg, overviewPng, overviewSvg, plotImage } from "../export-images.js";
import { THUMBNAIL_SIZE } from "../data.js";
import { describeOptions } from "../options.js";
import { currentGroup } from "../state.js";

const $ = (id) => document.getElementById(id);

// What the heatmap and the line view draw (null while they are being drawn).
function shownView(state) {
  if (!state.shown) throw new Error("the view is still being drawn; try again in a moment");
  return state.shown;
}

// The title line of a picture: "minilm · Encoder self-attention · layer 3 · head 5 · Word level".
function exportTitle(shown, { layer = true } = {}) {
  const model = shown.variant ? `${shown.model} (${shown.variant})` : shown.model;
  const entry = typeof shown.head === "number" ? `head ${shown.head}` : shown.head === "mean" ? "mean over heads" : shown.head;
  const where = layer ? `layer ${shown.layer} · ${entry}` : "all layers × heads";
  return `${model} · ${shown.tab} · ${where} · ${describeOptions(shown.options)}`;
}

// The line view's picture, when it drew one (it draws a note past its token limit).
function linesPicture() {
  const svg = $("lines").querySelector("svg");
  if (!svg) throw new Error("the line view draws no picture for this many tokens; the JSON and CSV hold the numbers");
  return svg;
}

function overviewData(state) {
  const { request, options, body } = state.result;
  const combined = { heads: "mean", rollout: "rollout" }[options.aggregate] ?? null;
  const { blocks } = currentGroup(state);
  return { ...request, tab: state.group, options, maxSize: THUMBNAIL_SIZE, blocks, tokens: body.tokens, combined };
}

export function bind(store) {
  const shown = () => shownView(store.state);
  const onError = (message) => store.set({ error: message });
  const name = (suffix = "") => fileName(shown(), suffix);
  const numbers = {
    json: () => ({ blob: viewJson(shown()), name: name() }),
    csv: () => ({ blob: viewCsv(shown()), name: name() }),
  };
  bindExportBar(
    $("heatmap-export"),
    {
      png: () => ({ blob: plotImage($("heatmap"), "png", exportTitle(shown())), name: name("heatmap") }),
      svg: () => ({ blob: plotImage($("heatmap"), "svg", exportTitle(shown())), name: name("heatmap") }),
      ...numbers,
    },
    onError,
  );
  bindExportBar(
    $("lines-export"),
    {
      png: () => ({ blob: linesPng(linesPicture(), exportTitle(shown())), name: name("lines") }),
      svg: () => ({ blob: linesSvg(linesPicture(), exportTitle(shown())), name: name("lines") }),
      ...numbers,
    },
    onError,
  );
  const grid = () => $("overview").querySelector(".overview-grid");
  const overviewName = () => fileName({ ...shown(), layer: null, head: null }, "overview");
  const overviewTitle = () => exportTitle(shown(), { layer: false });
  bindExportBar(
    $("overview-export"),
    {
      png: () => ({ blob: overviewPng(grid(), overviewTitle()), name: overviewName() }),
      svg: () => ({ blob: overviewSvg(grid(), overviewTitle()), name: overviewName() }),
      json: () => ({ blob: overviewJson(overviewData(store.state)), name: overviewName() }),
    },
    onError,
  );
}
