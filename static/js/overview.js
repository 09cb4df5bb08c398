// All layers x heads of one group of blocks as small canvases, one pixel per weight, each
// scaled to its own maximum, each head badged with its role when the roles have come.
// Canvas, not Plotly: hundreds of thumbnails must draw at once.

import { VIRIDIS } from "./colors.js";
import { MEAN, entryMean } from "./blocks.js";
import { describeRole, roleBadge, roleOf } from "./roles.js";
import { el } from "./text.js";

function paint(canvas, data, offset, q, k, count) {
  canvas.width = k;
  canvas.height = q;
  const image = canvas.getContext("2d").createImageData(k, q);
  const values = entryMean(data, offset, count, q * k);
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

// `role`: the head's entry from /heads, or null (a mean, or roles not there yet).
function thumbnail(block, head, index, label, selected, onSelect, role = null) {
  const [h, q, k] = block.shape;
  const isSelected = selected.layer === block.layer && selected.head === head;
  const described = role ? `${label}: ${describeRole(role)}` : label;
  const button = el("button", {
    type: "button",
    className: isSelected ? "thumb selected" : "thumb",
    title: described,
    ariaLabel: described,
    dataset: { layer: String(block.layer), head: String(head) },
  });
  if (role) button.dataset.role = role.role;
  const canvas = el("canvas");
  if (index === null) paint(canvas, block.data, 0, q, k, h);
  else paint(canvas, block.data, index * q * k, q, k, 1);
  button.append(canvas);
  if (role && role.role !== "none") button.append(roleBadge(role.role));
  button.addEventListener("click", () => onSelect(block.layer, head));
  return button;
}

// One row per layer: a thumbnail per head, then the layer's mean.
function perHead(grid, blocks, selected, onSelect, roles) {
  const headCount = Math.max(...blocks.map((b) => b.heads.length));
  // Thumbnails share the width but stay small: a 4-head model should not draw posters.
  grid.style.gridTemplateColumns = `auto repeat(${headCount + 1}, minmax(0, 110px))`;
  grid.append(el("span"));
  for (let h = 0; h < headCount; h += 1) grid.append(el("span", { className: "axis", text: `H${h}` }));
  grid.append(el("span", { className: "axis", text: "mean" }));
  for (const block of blocks) {
    grid.append(el("span", { className: "axis", text: `L${block.layer}` }));
    block.heads.forEach((head, i) => {
      const role = roleOf(roles, block.name, head);
      grid.append(thumbnail(block, head, i, `layer ${block.layer}, head ${head}`, selected, onSelect, role));
    });
    grid.append(thumbnail(block, MEAN, null, `layer ${block.layer}, mean over heads`, selected, onSelect));
  }
}

// One thumbnail per layer, side by side: each block already holds one combined entry.
function perLayer(grid, blocks, selected, onSelect, combined) {
  grid.style.gridTemplateColumns = `auto repeat(${blocks.length}, minmax(0, 110px))`;
  grid.append(el("span"));
  for (const block of blocks) grid.append(el("span", { className: "axis", text: `L${block.layer}` }));
  grid.append(el("span", { className: "axis", text: combined }));
  for (const block of blocks) {
    grid.append(thumbnail(block, MEAN, null, `layer ${block.layer}, ${combined}`, selected, onSelect));
  }
}

// `combined`: null when each block has one entry per head; else what the single entry of
// each block is ("mean over heads", "rollout"), and the overview draws one thumbnail a layer.
// `roles`: (block name, head) -> role entry (roles.js roleLookup), or null while loading.
export function drawOverview(container, blocks, selected, onSelect, { combined = null, roles = null } = {}) {
  const grid = el("div", { className: "overview-grid" });
  if (combined) perLayer(grid, blocks, selected, onSelect, combined);
  else perHead(grid, blocks, selected, onSelect, roles);
  container.replaceChildren(grid);
}
