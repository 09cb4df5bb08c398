// The alignment as the textbook draws it: source tokens in one column, target tokens in the
// other, a line from every target token to every source token, as opaque as its weight.

import { el } from "./text.js";

const SVG = "http://www.w3.org/2000/svg";
const ROW = 30; // pixels between tokens in a column
const WIDTH = 520;
const LEFT = 150; // x of the source column's line ends
const RIGHT = WIDTH - 150;
const MIN_WEIGHT = 0.01; // fainter lines are not drawn: they would be invisible anyway

function svg(tag, attributes = {}) {
  const node = document.createElementNS(SVG, tag);
  for (const [key, value] of Object.entries(attributes)) node.setAttribute(key, String(value));
  return node;
}

function column(tokens, x, anchor, side, top) {
  return tokens.map((token, i) => {
    const label = svg("text", {
      x,
      y: top + i * ROW,
      "text-anchor": anchor,
      "dominant-baseline": "middle",
      class: `align-token ${side}`,
      "data-index": i,
    });
    label.textContent = token; // token text is user input: text, never markup
    return label;
  });
}

// z: rows are target tokens (queries), columns source tokens (keys).
export function drawAlignment(container, { z, sourceTokens, targetTokens }) {
  const rows = Math.max(sourceTokens.length, targetTokens.length);
  const height = rows * ROW + 20;
  const sourceTop = 20 + ((rows - sourceTokens.length) * ROW) / 2;
  const targetTop = 20 + ((rows - targetTokens.length) * ROW) / 2;
  const root = svg("svg", {
    viewBox: `0 0 ${WIDTH} ${height}`,
    width: WIDTH,
    height,
    class: "alignment-svg",
    role: "img",
    "aria-label": "Alignment lines from each target token to the source tokens",
  });
  const lines = svg("g", { class: "align-lines" });
  z.forEach((row, t) => {
    row.forEach((weight, s) => {
      if (weight < MIN_WEIGHT) return;
      const line = svg("line", {
        x1: LEFT + 8,
        y1: sourceTop + s * ROW,
        x2: RIGHT - 8,
        y2: targetTop + t * ROW,
        "stroke-opacity": Math.min(1, weight).toFixed(3),
        "stroke-width": (1 + 4 * weight).toFixed(2),
        "data-target": t,
        "data-source": s,
        "data-weight": weight.toFixed(4),
      });
      const title = svg("title");
      title.textContent = `${targetTokens[t]} → ${sourceTokens[s]}: ${weight.toFixed(3)}`;
      line.append(title);
      lines.append(line);
    });
  });
  root.append(
    lines,
    ...column(sourceTokens, LEFT, "end", "source", sourceTop),
    ...column(targetTokens, RIGHT, "start", "target", targetTop),
  );
  // Hovering a token shows only its own lines.
  root.addEventListener("mouseover", (event) => {
    const label = event.target.closest?.(".align-token");
    if (!label) return;
    const side = label.classList.contains("target") ? "target" : "source";
    root.classList.add("focused");
    for (const line of lines.children) {
      line.classList.toggle("on", line.dataset[side] === label.dataset.index);
    }
  });
  root.addEventListener("mouseleave", () => root.classList.remove("focused"));
  container.replaceChildren(
    el("div", { className: "align-heads" }, [
      el("span", { text: "source" }),
      el("span", { text: "target" }),
    ]),
    root,
  );
}
