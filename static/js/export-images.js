// Pictures of what the page shows, made in the browser (offline): the heatmap as Plotly draws
// it (PNG, SVG), the line view (its own SVG; PNG drawn from it on a canvas), and the overview
// (its canvases composed as laid out on screen: one PNG, or an SVG that embeds each thumbnail
// as a PNG image).

import { plotlyText } from "./text.js";

const PIXEL_RATIO = 2; // PNGs are drawn at twice the on-screen size, sharp on any display
// Every picture carries a title line saying what it shows (model, tab, layer, head, options).
const TITLE_HEIGHT = 28;
const TITLE_FONT = "13px system-ui, sans-serif";
const SVG_NS = "http://www.w3.org/2000/svg";

function svgNode(tag, attributes = {}) {
  const node = document.createElementNS(SVG_NS, tag);
  for (const [key, value] of Object.entries(attributes)) node.setAttribute(key, String(value));
  return node;
}

function svgTitle(title) {
  const node = svgNode("text", { x: 8, y: TITLE_HEIGHT / 2, "dominant-baseline": "central", style: `font: ${TITLE_FONT}; fill: #1d2330` });
  node.textContent = title;
  return node;
}

function dataUrlBlob(url) {
  const comma = url.indexOf(",");
  const header = url.slice(5, comma); // after "data:"
  const payload = url.slice(comma + 1);
  const type = header.split(";")[0];
  if (header.endsWith(";base64")) {
    const binary = atob(payload);
    return new Blob([Uint8Array.from(binary, (ch) => ch.charCodeAt(0))], { type });
  }
  return new Blob([decodeURIComponent(payload)], { type });
}

// A Plotly figure as Plotly itself renders it for export, at its on-screen size, with `title`
// above it.
export async function plotImage(div, format, title) {
  const { layout } = div;
  const figure = {
    data: div.data,
    layout: {
      ...layout,
      title: { text: plotlyText(title), x: 0.01, xanchor: "left", font: { size: 13 } },
      margin: { ...layout.margin, t: layout.margin.t + TITLE_HEIGHT },
    },
  };
  const url = await window.Plotly.toImage(figure, {
    format,
    width: div.clientWidth,
    height: div.clientHeight + TITLE_HEIGHT,
    scale: format === "png" ? PIXEL_RATIO : 1,
  });
  return dataUrlBlob(url);
}

function canvasPng(canvas) {
  return new Promise((resolve, reject) =>
    canvas.toBlob((blob) => (blob ? resolve(blob) : reject(new Error("The image could not be drawn."))), "image/png"),
  );
}

function whiteCanvas(width, height) {
  const canvas = document.createElement("canvas");
  canvas.width = Math.ceil(width * PIXEL_RATIO);
  canvas.height = Math.ceil(height * PIXEL_RATIO);
  const context = canvas.getContext("2d");
  context.fillStyle = "#fff";
  context.fillRect(0, 0, canvas.width, canvas.height);
  context.scale(PIXEL_RATIO, PIXEL_RATIO);
  return { canvas, context };
}

// The computed style of the first node matching `selector`, as a CSS rule for `rule`.
function styleRule(root, selector, rule, properties) {
  const node = root.querySelector(selector);
  if (!node) return "";
  const style = getComputedStyle(node);
  return `${rule} { ${properties.map((p) => `${p}: ${style.getPropertyValue(p)};`).join(" ")} }`;
}

// The line view's SVG as a file of its own, `title` above it: the page's stylesheet does not
// travel with it, so the styles the page computed are written into it; the hover state is
// left out.
export function linesSvg(svg, title) {
  const copy = svg.cloneNode(true);
  copy.classList.remove("focused");
  for (const node of copy.querySelectorAll(".on")) node.classList.remove("on");
  const width = Number(svg.getAttribute("width"));
  const height = Number(svg.getAttribute("height")) + TITLE_HEIGHT;
  copy.setAttribute("xmlns", SVG_NS);
  copy.setAttribute("height", height);
  copy.setAttribute("viewBox", `0 0 ${width} ${height}`);
  const drawing = svgNode("g", { transform: `translate(0 ${TITLE_HEIGHT})` });
  drawing.append(...copy.childNodes);
  const text = ["fill", "font-size", "font-family", "font-weight"];
  const style = svgNode("style");
  style.textContent = [
    styleRule(svg, "line", "line", ["stroke", "stroke-linecap"]),
    styleRule(svg, ".line-token:not(.on)", ".line-token", text),
    styleRule(svg, ".lines-head", ".lines-head", text),
  ].join("\n");
  copy.append(style, svgNode("rect", { width: "100%", height: "100%", fill: "#fff" }), svgTitle(title), drawing);
  return new Blob([new XMLSerializer().serializeToString(copy)], { type: "image/svg+xml" });
}

export async function linesPng(svg, title) {
  const url = URL.createObjectURL(linesSvg(svg, title));
  try {
    const image = new Image();
    image.src = url;
    await image.decode();
    const width = Number(svg.getAttribute("width"));
    const height = Number(svg.getAttribute("height")) + TITLE_HEIGHT;
    const { canvas, context } = whiteCanvas(width, height);
    context.drawImage(image, 0, 0, width, height);
    return await canvasPng(canvas);
  } finally {
    URL.revokeObjectURL(url);
  }
}

// Every label and thumbnail of the overview grid where it sits on screen, relative to the
// grid, below a title line.
function overviewLayout(grid) {
  const origin = grid.getBoundingClientRect();
  const place = (node) => {
    const r = node.getBoundingClientRect();
    return { x: r.left - origin.left, y: r.top - origin.top + TITLE_HEIGHT, width: r.width, height: r.height };
  };
  const items = [...grid.children].map((node) => {
    const canvas = node.querySelector("canvas");
    if (!canvas) return { text: node.textContent, box: place(node), style: getComputedStyle(node) };
    const badge = node.querySelector(".role-badge");
    return {
      canvas,
      box: place(canvas),
      badge: badge && { text: badge.textContent, box: place(badge), fill: getComputedStyle(badge).backgroundColor },
      selected: node.classList.contains("selected"),
    };
  });
  // at least wide enough for the title (a one-layer model has a narrow grid)
  return { items, width: Math.max(origin.width, 480), height: origin.height + TITLE_HEIGHT };
}

const SELECTED = "#e4572e";

export async function overviewPng(grid, title) {
  const { items, width, height } = overviewLayout(grid);
  const { canvas, context } = whiteCanvas(width, height);
  context.font = TITLE_FONT;
  context.fillStyle = "#1d2330";
  context.textBaseline = "middle";
  context.fillText(title, 8, TITLE_HEIGHT / 2);
  context.textAlign = "center";
  context.textBaseline = "middle";
  for (const item of items) {
    const { x, y, width: w, height: h } = item.box;
    if (!item.canvas) {
      context.font = `${item.style.fontSize} ${item.style.fontFamily}`;
      context.fillStyle = item.style.color;
      context.fillText(item.text, x + w / 2, y + h / 2);
      continue;
    }
    context.imageSmoothingEnabled = false; // one pixel a weight, as on screen
    context.drawImage(item.canvas, x, y, w, h);
    if (item.selected) {
      context.strokeStyle = SELECTED;
      context.lineWidth = 2;
      context.strokeRect(x - 1, y - 1, w + 2, h + 2);
    }
    if (item.badge) {
      const b = item.badge.box;
      context.fillStyle = item.badge.fill;
      context.fillRect(b.x, b.y, b.width, b.height);
      context.fillStyle = "#fff";
      context.font = `700 ${b.height * 0.8}px system-ui, sans-serif`;
      context.fillText(item.badge.text, b.x + b.width / 2, b.y + b.height / 2);
    }
  }
  return canvasPng(canvas);
}

// The overview as SVG: each thumbnail an <image> of its own canvas (a PNG, drawn pixelated),
// not a rectangle per weight: 30 layers × 10 thumbnails of 48 × 48 would be 690,000 of them.
export function overviewSvg(grid, title) {
  const { items, width, height } = overviewLayout(grid);
  const root = svgNode("svg", { xmlns: SVG_NS, width, height, viewBox: `0 0 ${width} ${height}` });
  root.append(svgNode("rect", { width: "100%", height: "100%", fill: "#fff" }), svgTitle(title));
  const text = (content, box, style) => {
    const node = svgNode("text", {
      x: box.x + box.width / 2,
      y: box.y + box.height / 2,
      "text-anchor": "middle",
      "dominant-baseline": "central",
      ...style,
    });
    node.textContent = content;
    return node;
  };
  for (const item of items) {
    const { x, y, width: w, height: h } = item.box;
    if (!item.canvas) {
      const { fontSize, fontFamily, color } = item.style;
      root.append(text(item.text, item.box, { "font-size": fontSize, "font-family": fontFamily, fill: color }));
      continue;
    }
    root.append(
      svgNode("image", {
        x,
        y,
        width: w,
        height: h,
        href: item.canvas.toDataURL("image/png"),
        preserveAspectRatio: "none",
        style: "image-rendering: pixelated",
      }),
    );
    if (item.selected) {
      root.append(svgNode("rect", { x: x - 1, y: y - 1, width: w + 2, height: h + 2, fill: "none", stroke: SELECTED, "stroke-width": 2 }));
    }
    if (item.badge) {
      const b = item.badge.box;
      root.append(
        svgNode("rect", { x: b.x, y: b.y, width: b.width, height: b.height, rx: 3, fill: item.badge.fill }),
        text(item.badge.text, b, { "font-size": b.height * 0.8, "font-weight": 700, "font-family": "system-ui, sans-serif", fill: "#fff" }),
      );
    }
  }
  return new Blob([new XMLSerializer().serializeToString(root)], { type: "image/svg+xml" });
}
