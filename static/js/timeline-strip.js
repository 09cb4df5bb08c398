// The generation timeline's strip: the attention row of one step as bars over every position,
// the prompt's and the written tokens', the token the step writes shaded.

import { VIRIDIS } from "./colors.js";
import { FONT_FAMILY, plotlyText } from "./text.js";

const MAX_TICKS = 64;

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

// `weights`: the row over positions 0 .. `writes` − 1; `tokens`: every position's token
// ({ text }), the prompt's first; `written`: the token this step writes, at position `writes`.
export function drawStrip(div, { weights, tokens, promptLength, writes, written }) {
  const quoted = (token) => `“${token.text}”`;
  const trace = {
    type: "bar",
    x: weights.map((_, i) => i),
    y: weights,
    marker: { color: barColors(weights, Math.max(...weights)) },
    text: tokens.slice(0, weights.length).map((token, i) => `${plotlyText(token.text)} (${i})`),
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
        x0: promptLength - 0.5,
        x1: promptLength - 0.5,
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
        text: `writes ${plotlyText(quoted(written))}`,
        showarrow: false,
        font: { color: "#e4572e" },
      },
    ],
  };
  window.Plotly.react(div, [trace], layout, { responsive: true, displaylogo: false });
}
