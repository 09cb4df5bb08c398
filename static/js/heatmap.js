// The focused heatmap: one head (or the mean) of one block, tokens on both axes.

import { FONT_FAMILY, plotlyText } from "./text.js";

const SHOW_VALUES_UP_TO = 16; // tokens per axis; beyond this the numbers would not fit
const MAX_TICKS = 64;
// Cells beyond which hover labels are not built per cell: at 2048 tokens that would be four
// million strings. Plotly still draws the matrix (as one image) and hovers it; the tokens of
// the cell under the pointer are written into `hoverLine` instead.
const HOVER_TEXT_LIMIT = 300_000;

function ticks(tokens) {
  const step = Math.ceil(tokens.length / MAX_TICKS);
  const values = [];
  const labels = [];
  for (let i = 0; i < tokens.length; i += step) {
    values.push(i);
    labels.push(plotlyText(tokens[i]));
  }
  return { tickmode: "array", tickvals: values, ticktext: labels };
}

// Hover labels pair every query token with every key token; built once per result and axis pair.
const hoverCache = new WeakMap();

function hoverText(rowTokens, colTokens) {
  let byCols = hoverCache.get(rowTokens);
  if (!byCols) {
    byCols = new WeakMap();
    hoverCache.set(rowTokens, byCols);
  }
  let text = byCols.get(colTokens);
  if (!text) {
    const cols = colTokens.map((t, j) => `${plotlyText(t)} (${j})`);
    text = rowTokens.map((t, i) => {
      const row = `${plotlyText(t)} (${i})`;
      return cols.map((col) => `${row} → ${col}`);
    });
    byCols.set(colTokens, text);
  }
  return text;
}

function fewShortLabels(tokens) {
  return tokens.length <= 12 && tokens.every((token) => token.length <= 6);
}

export function drawHeatmap(
  div,
  {
    z,
    rowTokens,
    colTokens,
    rowTitle,
    colTitle,
    rowTotals = null,
    highlightRow = null,
    title = null,
    compact = false,
    showScale = !compact,
    hoverLine = null,
    // [row, col] cells to outline: a translation's alignment links
    marks = null,
    // The colour scale: from 0 to the matrix's own maximum unless given (two views compared
    // share one); `name` labels the colour bar and the hovered value.
    scale = {},
  },
) {
  const { zmin = 0, zmax, colorscale = "Viridis", name = "weight" } = scale;
  const large = rowTokens.length * colTokens.length > HOVER_TEXT_LIMIT;
  const n = Math.max(rowTokens.length, colTokens.length);
  const cell = compact ? (n <= 24 ? 22 : 9) : n <= 24 ? 34 : n <= 64 ? 14 : 7;
  const trace = {
    type: "heatmap",
    z,
    x: colTokens.map((_, j) => j),
    y: rowTokens.map((_, i) => i),
    zmin,
    zmax,
    colorscale,
    text: large ? undefined : hoverText(rowTokens, colTokens),
    hovertemplate: large
      ? `query %{y} → key %{x}<br>${name} %{z:.4f}<extra></extra>`
      : `%{text}<br>${name} %{z:.4f}<extra></extra>`,
    colorbar: { title: { text: name }, thickness: 14 },
    xgap: n <= 64 ? 1 : 0,
    ygap: n <= 64 ? 1 : 0,
  };
  // Value-norm weighting: each row was scaled to 1; its total before that says how much the
  // query's attended values weigh at all.
  if (rowTotals && !large) {
    trace.customdata = rowTotals.map((total) => new Array(colTokens.length).fill(total));
    trace.hovertemplate = "%{text}<br>weight %{z:.4f}<br>row total Σα‖f(x)‖ %{customdata:.3f}<extra></extra>";
  }
  if (n <= SHOW_VALUES_UP_TO && !compact) {
    trace.texttemplate = "%{z:.2f}";
    trace.textfont = { size: 10 };
  }
  trace.showscale = showScale;
  const layout = {
    title: title == null ? undefined : { text: plotlyText(title), font: { size: 13 }, x: 0, xanchor: "left" },
    height: Math.min(Math.max(rowTokens.length * cell + 160, compact ? 220 : 320), 1100),
    margin: { l: compact ? 70 : 110, r: 20, t: title == null ? 20 : 40, b: compact ? 70 : 110 },
    // a few short labels (Chinese characters) read best upright; rotated they shrink to blots
    xaxis: {
      ...ticks(colTokens),
      title: { text: colTitle },
      tickangle: fewShortLabels(colTokens) ? 0 : -60,
      side: "bottom",
      automargin: true,
      zeroline: false,
    },
    yaxis: { ...ticks(rowTokens), title: { text: rowTitle }, autorange: "reversed", automargin: true, zeroline: false },
    font: { family: FONT_FAMILY, size: 12 },
    shapes: [
      ...(highlightRow == null
        ? []
        : [
            {
              type: "rect",
              xref: "x",
              yref: "y",
              x0: -0.5,
              x1: colTokens.length - 0.5,
              y0: highlightRow - 0.5,
              y1: highlightRow + 0.5,
              line: { color: "#e4572e", width: 3 },
            },
          ]),
      // Alignment links: an outlined cell each, visible on dark and on bright cells alike.
      ...(marks ?? []).map(([row, col]) => ({
        type: "rect",
        xref: "x",
        yref: "y",
        x0: col - 0.42,
        x1: col + 0.42,
        y0: row - 0.42,
        y1: row + 0.42,
        line: { color: "#e4572e", width: 2.5 },
        name: "alignment link",
      })),
    ],
  };
  window.Plotly.react(div, [trace], layout, { responsive: true, displaylogo: false });
  if (hoverLine) followHover(div, hoverLine, large ? { rowTokens, colTokens, rowTotals } : null);
}

// For a large matrix, the hovered cell's tokens (and row total) go into `line` as text.
const hoverTargets = new WeakMap();

function followHover(div, line, labels) {
  line.textContent = labels ? "Hover a cell to see its query and key tokens." : "";
  line.hidden = !labels;
  const bound = hoverTargets.has(div);
  hoverTargets.set(div, { line, labels });
  if (bound) return;
  div.on("plotly_hover", (event) => {
    const { line: target, labels: current } = hoverTargets.get(div);
    if (!current) return;
    const { x, y, z } = event.points[0];
    const total = current.rowTotals ? ` · row total Σα‖f(x)‖ ${current.rowTotals[y].toFixed(3)}` : "";
    target.textContent = `${current.rowTokens[y]} (${y}) → ${current.colTokens[x]} (${x}): weight ${z.toFixed(4)}${total}`;
  });
}
