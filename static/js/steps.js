// Self-attention step by step for one head and one query: q, K, V, the scores, their scaling,
// the softmax and the weighted sum of values, with the numbers.

import { FONT_FAMILY, el, plotlyText } from "./text.js";

const fmt = (x, digits = 3) => (x == null ? "masked" : x.toFixed(digits));

function vectorPlot(div, { z, rowTokens, title, colorscale = "RdBu", symmetric = true }) {
  const flat = z.flat();
  const limit = Math.max(...flat.map(Math.abs)) || 1;
  const trace = {
    type: "heatmap",
    z,
    x: z[0].map((_, j) => j),
    y: rowTokens.map((_, i) => i),
    colorscale,
    reversescale: colorscale === "RdBu",
    zmin: symmetric ? -limit : 0,
    zmax: limit,
    text: z.map((row, i) => row.map((_, j) => `${plotlyText(rowTokens[i])}, dim ${j}`)),
    hovertemplate: "%{text}: %{z:.4f}<extra></extra>",
    showscale: false,
  };
  const layout = {
    title: { text: plotlyText(title), font: { size: 13 }, x: 0, xanchor: "left" },
    height: Math.min(60 + rowTokens.length * 18, 420),
    margin: { l: 90, r: 10, t: 30, b: 24 },
    xaxis: { title: { text: "" }, showticklabels: rowTokens.length > 1, dtick: 4 },
    yaxis: {
      tickmode: "array",
      tickvals: rowTokens.map((_, i) => i),
      ticktext: rowTokens.map(plotlyText),
      autorange: "reversed",
    },
    font: { family: FONT_FAMILY, size: 11 },
  };
  window.Plotly.react(div, [trace], layout, { displayModeBar: false, responsive: true });
}

function stepHeading(number, text) {
  return el("h3", { className: "step-title" }, [el("span", { className: "step-number", text: String(number) }), text]);
}

function scoreTable(data) {
  const root = Math.sqrt(data.d_k);
  const head = el("tr", {}, [
    el("th", { text: "key token" }),
    el("th", { text: "② q·kⱼ" }),
    el("th", { text: `③ ÷ √${data.d_k} = ÷ ${root.toFixed(2)}` }),
    el("th", { text: "④ softmax = weight" }),
  ]);
  const max = Math.max(...data.weights);
  const rows = data.key_tokens.map((token, j) => {
    const bar = el("span", { className: "bar" });
    bar.style.width = `${(100 * data.weights[j]) / max}%`;
    const isQuery = j === data.query_index;
    return el("tr", { className: [isQuery ? "is-query" : "", data.masked[j] ? "is-masked" : ""].join(" ").trim() }, [
      el("td", { className: "token", text: `${token} (${j})` }),
      el("td", { className: "num", text: fmt(data.scores[j]) }),
      el("td", { className: "num", text: fmt(data.scaled_scores[j]) }),
      el("td", { className: "num weight" }, [bar, el("span", { text: fmt(data.weights[j], 4) })]),
    ]);
  });
  const sum = data.weights.reduce((a, b) => a + b, 0);
  const foot = el("tr", {}, [
    el("td", { text: "sum" }),
    el("td"),
    el("td"),
    el("td", { className: "num", text: sum.toFixed(4) }),
  ]);
  return el("table", { className: "steps-table" }, [el("thead", {}, [head]), el("tbody", {}, rows), el("tfoot", {}, [foot])]);
}

export function renderSteps(container, data) {
  const q = data.query_token;
  const weighted = data.values.map((row, j) => row.map((v) => v * data.weights[j]));
  const plots = {
    q: el("div", { className: "vector-plot" }),
    k: el("div", { className: "vector-plot" }),
    v: el("div", { className: "vector-plot" }),
    wv: el("div", { className: "vector-plot" }),
    out: el("div", { className: "vector-plot" }),
  };
  // Where a position reads one token and writes another (a decoder's: the next), say both, as
  // the heatmap rows do.
  const read = data.key_tokens[data.query_index];
  const position =
    read !== q
      ? `position ${data.query_index}, which reads “${read}” and writes “${q}”`
      : `position ${data.query_index}`;
  container.replaceChildren(
    el("p", {
      className: "steps-summary",
      text: `Query “${q}” (${position}) in ${data.stack} layer ${data.layer}, head ${data.head}: d_k = ${data.d_k}.`,
    }),
    stepHeading(1, "Project every token into a query, a key and a value (the model's own W_Q, W_K, W_V)"),
    el("div", { className: "step-grid three" }, [plots.q, plots.k, plots.v]),
    stepHeading(2, `Score each key against the query, scale by 1/√d_k, softmax (steps 2, 3, 4)`),
    scoreTable(data),
    stepHeading(5, "Weight each value by its softmax weight and add them up: the head's output for this token"),
    el("div", { className: "step-grid two" }, [plots.wv, plots.out]),
    el("p", {
      className: "checks",
      text: `Checked against the model: softmax of the scaled scores differs from its own attention row by at most ${data.checks.weights_max_abs_diff.toExponential(1)}, and Σ wⱼvⱼ from its head output by at most ${data.checks.output_max_abs_diff.toExponential(1)}.`,
    }),
  );
  vectorPlot(plots.q, { z: [data.query_vector], rowTokens: [q], title: `q (the query “${q}”)` });
  vectorPlot(plots.k, { z: data.keys, rowTokens: data.key_tokens, title: "K (one key per token)" });
  vectorPlot(plots.v, { z: data.values, rowTokens: data.key_tokens, title: "V (one value per token)" });
  vectorPlot(plots.wv, { z: weighted, rowTokens: data.key_tokens, title: "wⱼ · vⱼ" });
  vectorPlot(plots.out, { z: [data.output], rowTokens: [q], title: "output = Σ wⱼ vⱼ" });
}
