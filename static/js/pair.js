// Two texts side by side on the same model: the same block, layer and head (or mean) of each,
// on one colour scale, and their difference A − B where the two token sequences line up.
//
// They line up when both views have the same number of rows and the same number of columns
// (after the options: word level, special tokens hidden): row i of A is then compared with row
// i of B, column j with column j. That holds for texts that differ by words of equal token
// length ("tired" / "wide"), and at word level for texts with the same number of words.
// Anything else has no position-by-position pairing, and the page says so instead of drawing.

import { drawHeatmap } from "./heatmap.js";

// Diverging, white at 0: red where A attends more, blue where B does.
const DIFFERENCE_SCALE = [
  [0, "#2166ac"],
  [0.5, "#f7f7f7"],
  [1, "#b2182b"],
];

function largest(z) {
  let max = 0;
  for (const row of z) for (const v of row) if (v > max) max = v;
  return max;
}

// The positions where two token lists differ; null when their lengths differ.
function differing(a, b) {
  if (a.length !== b.length) return null;
  return a.flatMap((token, i) => (token === b[i] ? [] : [i]));
}

// A label per position: the token, or "A's / B's" where they differ.
function pairedLabels(a, b) {
  return a.map((token, i) => (token === b[i] ? token : `${token} / ${b[i]}`));
}

function count(n, word) {
  return `${n} ${word}${n === 1 ? "" : "s"}`;
}

// `a`, `b`: { z, rowTokens, colTokens, rowsName, colsName } of the same block.
// Returns the shared top of the colour scale and whether the difference could be drawn.
export function drawPair({ a: divA, b: divB, difference: divDiff, caption }, a, b) {
  const zmax = Math.max(largest(a.z), largest(b.z)) || 1;
  const shared = { zmin: 0, zmax };
  const axes = { rowTitle: `query (${a.rowsName})`, colTitle: `key (${a.colsName})`, compact: true, showScale: true };
  drawHeatmap(divA, { ...a, ...axes, scale: shared });
  drawHeatmap(divB, { ...b, ...axes, scale: shared });

  const rows = differing(a.rowTokens, b.rowTokens);
  const cols = differing(a.colTokens, b.colTokens);
  if (rows === null || cols === null) {
    window.Plotly.purge(divDiff);
    divDiff.replaceChildren();
    caption.textContent =
      `No difference drawn: A has ${a.rowTokens.length} × ${a.colTokens.length} tokens (queries × keys), ` +
      `B ${b.rowTokens.length} × ${b.colTokens.length}, so row i of one is not row i of the other. ` +
      "The difference needs the same number of tokens on each axis: texts that differ by words of the same " +
      "length in tokens, or (with Units: words) the same number of words.";
    return { zmax, matched: false };
  }
  const z = a.z.map((row, i) => row.map((v, j) => v - b.z[i][j]));
  const extent = Math.max(largest(z), largest(z.map((row) => row.map((v) => -v)))) || 1e-6;
  drawHeatmap(divDiff, {
    z,
    rowTokens: pairedLabels(a.rowTokens, b.rowTokens),
    colTokens: pairedLabels(a.colTokens, b.colTokens),
    ...axes,
    scale: { zmin: -extent, zmax: extent, colorscale: DIFFERENCE_SCALE, name: "A − B" },
  });
  let where;
  if (!rows.length && !cols.length) where = "Both texts have the same tokens.";
  else if (a.rowsName === a.colsName) where = `${count(rows.length, "position")} differ${rows.length === 1 ? "s" : ""} (labelled “A / B”); every other has the same token in both.`;
  else where = `${rows.length} query and ${cols.length} key tokens differ (labelled “A / B”); every other has the same token in both.`;
  caption.textContent = `A − B, position by position: red where A gives more weight, blue where B does (largest difference ${extent.toFixed(3)}). ${where}`;
  return { zmax, matched: true };
}

export function clearPair({ a, b, difference, caption }) {
  for (const div of [a, b, difference]) {
    window.Plotly.purge(div);
    div.replaceChildren();
  }
  caption.textContent = "";
}
