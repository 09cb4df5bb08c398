// The line view panel: the same matrix as the heatmap, as lines from each query to the keys it
// reads, the alignment links drawn solid.

import { drawLines } from "../lines.js";

const $ = (id) => document.getElementById(id);

export const watches = ["shown"];

export function render({ shown }) {
  if (!shown) return;
  const { block } = shown;
  drawLines($("lines"), {
    z: shown.z,
    rowTokens: shown.rowTokens,
    colTokens: shown.colTokens,
    rowsName: block.rows,
    colsName: block.cols,
    links: shown.alignment?.marks ?? null,
  });
  Object.assign($("lines").dataset, {
    layer: String(shown.layer),
    head: String(shown.entry),
    block: block.name,
    options: shown.optionsKey,
  });
}
