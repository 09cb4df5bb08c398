// All layers x heads of one attention kind as small canvases, one pixel per weight, each
// scaled to its own maximum. Canvas, not Plotly: hundreds of thumbnails must draw at once.

import { VIRIDIS } from "./colors.js";
import { MEAN } from "./blocks.js";
import { el } from "./text.js";

function paint(canvas, data, offset, q, k, stride, count) {
  canvas.width = k;
  canvas.height = q;
  const image = canvas.getContext("2d").createImageData(k, q);
  const values = new Float32Array(q * k);
  for (let h = 0; h < count; h += 1) {
    const start = offset + h * stride;
    for (let i = 0; i < q * k; i += 1) values[i] += data[start + i] / count;
  }
  let max = 0;
  for (const v of values) if (v > max) max = v;
  const scale = max > 0 ? 255 / max : 0;
  for (let i = 0; i < values.length; i += 1) {
    const c = Math.round(values[i] * scale) * 3;
    image.data[i * 4] = VIRIDIS[c];
    image.data[i * 4 + 1] = VIRIDIS[c + 1];
    image.data[i * 4 + 2] = VIRIDIS[c + 2];
    image.data[i * 4 + 3] = 255;
  }
  canvas.getContext("2d").putImageData(image, 0, 0);
}

export function drawOverview(container, blocks, selected, onSelect) {
  const headCount = Math.max(...blocks.map((b) => b.heads.length));
  const grid = el("div", { className: "overview-grid" });
  // Thumbnails share the width but stay small: a 4-head model should not draw posters.
  grid.style.gridTemplateColumns = `auto repeat(${headCount + 1}, minmax(0, 110px))`;
  grid.append(el("span"));
  for (let h = 0; h < headCount; h += 1) grid.append(el("span", { className: "axis", text: `H${h}` }));
  grid.append(el("span", { className: "axis", text: "mean" }));
  for (const block of blocks) {
    const [h, q, k] = block.shape;
    grid.append(el("span", { className: "axis", text: `L${block.layer}` }));
    const cells = [...block.heads.map((head, i) => [head, i]), [MEAN, null]];
    for (const [head, index] of cells) {
      const isSelected = selected.layer === block.layer && selected.head === head;
      const label = head === MEAN ? `layer ${block.layer}, mean over heads` : `layer ${block.layer}, head ${head}`;
      const button = el("button", {
        type: "button",
        className: isSelected ? "thumb selected" : "thumb",
        title: label,
        ariaLabel: label,
        dataset: { layer: String(block.layer), head: String(head) },
      });
      const canvas = el("canvas");
      if (index === null) paint(canvas, block.data, 0, q, k, q * k, h);
      else paint(canvas, block.data, index * q * k, q, k, q * k, 1);
      button.append(canvas);
      button.addEventListener("click", () => onSelect(block.layer, head));
      grid.append(button);
    }
  }
  container.replaceChildren(grid);
}
