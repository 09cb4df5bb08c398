// The line view, as BertViz's head view draws it: keys in the left column, queries in the
// right, a line from every query to every key it reads, as opaque as its weight. It works
// for any block: self-attention has the same tokens on both sides; cross-attention is the
// textbook alignment of a translation.

import { listName } from "./blocks.js";
import { el } from "./text.js";

const SVG = "http://www.w3.org/2000/svg";
const WIDTH = 520;
const LEFT = 170; // x of the key column's line ends
const RIGHT = WIDTH - 170;
const HEADER = 26; // pixels above the columns for their names
const MIN_WEIGHT = 0.01; // fainter lines are not drawn: they would be invisible anyway
// Beyond this many tokens on a side the lines merge into a grey wall (and number in the tens
// of thousands): the heatmap shows such inputs better.
export const MAX_LINE_TOKENS = 150;

function svg(tag, attributes = {}) {
  const node = document.createElementNS(SVG, tag);
  for (const [key, value] of Object.entries(attributes)) node.setAttribute(key, String(value));
  return node;
}

// Pixels between tokens in a column: roomy for a sentence, tight for a page of text.
function rowSpacing(count) {
  if (count <= 24) return 28;
  if (count <= 60) return 20;
  return 14;
}

function column(tokens, { x, anchor, side, top, row }) {
  return tokens.map((token, i) => {
    const label = svg("text", {
      x,
      y: top + i * row,
      "text-anchor": anchor,
      "dominant-baseline": "middle",
      class: `line-token ${side}`,
      "data-index": i,
    });
    label.textContent = token; // token text is user input: text, never markup
    return label;
  });
}

// z: one row per query, one column per key. rowsName / colsName: which token lists label them
// (the block's own `rows` and `cols`), shown as the column headers.
// links: [query, key] pairs drawn solid on top, a translation's alignment links.
export function drawLines(container, { z, rowTokens, colTokens, rowsName, colsName, links = null }) {
  const longest = Math.max(rowTokens.length, colTokens.length);
  if (longest > MAX_LINE_TOKENS) {
    container.replaceChildren(
      el("p", {
        className: "caption lines-note",
        text: `The line view draws up to ${MAX_LINE_TOKENS} tokens a side; this block has ${longest}. Read it in the heatmap, or switch to words to shorten it.`,
      }),
    );
    return;
  }
  const row = rowSpacing(longest);
  const height = HEADER + longest * row + 10;
  const keyTop = HEADER + row / 2 + ((longest - colTokens.length) * row) / 2;
  const queryTop = HEADER + row / 2 + ((longest - rowTokens.length) * row) / 2;
  const root = svg("svg", {
    viewBox: `0 0 ${WIDTH} ${height}`,
    width: WIDTH,
    height,
    class: `lines-svg${row < 20 ? " dense" : ""}`,
    role: "img",
    "aria-label": `Lines from each ${listName(rowsName)} token (right) to the ${listName(colsName)} tokens it reads (left)`,
  });
  const lines = svg("g", { class: "lines" });
  z.forEach((weights, q) => {
    weights.forEach((weight, k) => {
      if (weight < MIN_WEIGHT) return;
      const line = svg("line", {
        x1: LEFT + 8,
        y1: keyTop + k * row,
        x2: RIGHT - 8,
        y2: queryTop + q * row,
        "stroke-opacity": Math.min(1, weight).toFixed(3),
        "stroke-width": (1 + 4 * weight).toFixed(2),
        "data-query": q,
        "data-key": k,
        "data-weight": weight.toFixed(4),
      });
      const title = svg("title");
      title.textContent = `${rowTokens[q]} → ${colTokens[k]}: ${weight.toFixed(3)}`;
      line.append(title);
      lines.append(line);
    });
  });
  const solid = svg("g", { class: "links" });
  for (const [q, k] of links ?? []) {
    const line = svg("line", {
      x1: LEFT + 8,
      y1: keyTop + k * row,
      x2: RIGHT - 8,
      y2: queryTop + q * row,
      "data-query": q,
      "data-key": k,
    });
    const title = svg("title");
    title.textContent = `alignment link: ${rowTokens[q]} → ${colTokens[k]}`;
    line.append(title);
    solid.append(line);
  }
  const heading = (text, x, anchor) => {
    const node = svg("text", { x, y: 12, "text-anchor": anchor, "dominant-baseline": "middle", class: "lines-head" });
    node.textContent = text;
    return node;
  };
  root.append(
    heading(`${listName(colsName)} (keys)`, LEFT, "end"),
    heading(`${listName(rowsName)} (queries)`, RIGHT, "start"),
    lines,
    solid,
    ...column(colTokens, { x: LEFT, anchor: "end", side: "key", top: keyTop, row }),
    ...column(rowTokens, { x: RIGHT, anchor: "start", side: "query", top: queryTop, row }),
  );
  // Hovering a token on either side shows only its own lines: a query's, what it reads; a
  // key's, who reads it.
  root.addEventListener("mouseover", (event) => {
    const label = event.target.closest?.(".line-token");
    if (!label) return;
    const side = label.classList.contains("query") ? "query" : "key";
    root.classList.add("focused");
    for (const token of root.querySelectorAll(".line-token.on")) token.classList.remove("on");
    label.classList.add("on");
    for (const line of [...lines.children, ...solid.children]) {
      line.classList.toggle("on", line.dataset[side] === label.dataset.index);
    }
  });
  root.addEventListener("mouseleave", () => {
    root.classList.remove("focused");
    for (const token of root.querySelectorAll(".line-token.on")) token.classList.remove("on");
  });
  container.replaceChildren(root);
}
