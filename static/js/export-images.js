// Downloads of what the page shows, made in the browser (offline): the heatmap as Plotly draws
// it (PNG, SVG), the line view (its own SVG; PNG drawn from it on a canvas), the overview (its
// canvases composed as laid out on screen: one PNG, or an SVG that embeds each thumbnail as a
// PNG image), and the numbers of the view on show as JSON and CSV.

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

// A file name part: letters, digits, dot, dash and underscore only.
function slug(value) {
  return String(value).replace(/[^A-Za-z0-9._-]+/g, "-");
}

// "minilm_encoder-self_attn_layer3_head5_word-drop": the model (and variant), the block, the
// layer, the head (or mean, or rollout), and the options that are not the defaults.
export function fileName({ model, variant, block, layer, head, options }, suffix = "") {
  const parts = [variant ? `${model}-${variant}` : model, `${block.stack}-${block.kind}`];
  if (layer != null) parts.push(`layer${layer}`);
  if (head != null) parts.push(typeof head === "number" ? `head${head}` : head);
  const chosen = [
    options.granularity === "word" && "word",
    options.special_tokens === "drop" && "nospecial",
    options.weighting === "value_norm" && "valuenorm",
  ].filter(Boolean);
  if (chosen.length) parts.push(chosen.join("-"));
  if (suffix) parts.push(suffix);
  return parts.map(slug).join("_");
}

export function download(blob, name) {
  const url = URL.createObjectURL(blob);
  const link = document.createElement("a");
  link.href = url;
  link.download = name;
  link.hidden = true;
  document.body.append(link);
  link.click();
  link.remove();
  // The download has taken the blob by the next task; a minute is ample for a slow disk.
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}

// Wires a bar of download buttons (each with a data-format): `makers[format]()` returns
// { blob (or a promise of one), name }; a failure is reported through `onError`.
export function bindExportBar(bar, makers, onError) {
  bar.addEventListener("click", async (event) => {
    const button = event.target.closest("button[data-format]");
    if (!button) return;
    const { format } = button.dataset;
    try {
      const { blob, name } = makers[format]();
      download(await blob, `${name}.${format}`);
    } catch (error) {
      onError(`The ${format.toUpperCase()} could not be made: ${error.message}`);
    }
  });
}

function jsonBlob(value) {
  return new Blob([`${JSON.stringify(value, null, 1)}\n`], { type: "application/json" });
}

// The view on show as one JSON document: what was run, the block, and the matrix (a row per
// query token, a column per key token) with both axes' labels.
export function viewJson(view) {
  const body = {
    model: view.model,
    variant: view.variant ?? null,
    text: view.text,
    target: view.target ?? null,
    tab: view.tab,
    block: view.block.name,
    layer: view.layer,
    head: view.head,
    options: view.options,
    rows: { name: view.block.rows, tokens: view.rowTokens },
    cols: { name: view.block.cols, tokens: view.colTokens },
    matrix: view.z,
  };
  if (view.rowTotals) body.row_totals = view.rowTotals;
  return jsonBlob(body);
}

// A CSV field: quoted when it holds a comma, quote or line break (RFC 4180). A token that
// starts like a formula (= + - @, tab, carriage return) gets a leading ' so that a spreadsheet
// shows it as text instead of computing it.
function csvField(value) {
  let text = String(value);
  if (/^[=+\-@\t\r]/.test(text)) text = `'${text}`;
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

// The matrix as CSV: a header of key tokens, then one row per query token and its weights.
// A byte-order mark first, so spreadsheets read the tokens as UTF-8 (苹果, not mojibake).
export function viewCsv(view) {
  const corner = `${view.block.rows} \\ ${view.block.cols}`;
  const lines = [[corner, ...view.colTokens].map(csvField).join(",")];
  view.z.forEach((row, i) => lines.push([csvField(view.rowTokens[i]), ...row.map(String)].join(",")));
  return new Blob([`\ufeff${lines.join("\r\n")}\r\n`], { type: "text/csv;charset=utf-8" });
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

// The overview's numbers: every thumbnail's matrix as the server pooled it (at most
// `max_size` a side; uint8 on the wire, so each weight is within 1/510 of the float). A
// thumbnail of a pooled block has no token per row, so its labels are the block's size.
export function overviewJson(overview) {
  const thumbnails = [];
  for (const block of overview.blocks) {
    const [h, q, k] = block.shape;
    const entry = (head, rows) => ({ block: block.name, layer: block.layer, head, shape: [q, k], matrix: rows });
    const matrixAt = (offset, count) => {
      const rows = [];
      for (let i = 0; i < q; i += 1) {
        const row = new Array(k).fill(0);
        for (let e = 0; e < count; e += 1) {
          const start = offset + (e * q + i) * k;
          for (let j = 0; j < k; j += 1) row[j] += block.data[start + j] / count;
        }
        rows.push(row);
      }
      return rows;
    };
    if (overview.combined) {
      thumbnails.push(entry(overview.combined, matrixAt(0, h)));
      continue;
    }
    block.heads.forEach((head, i) => thumbnails.push(entry(head, matrixAt(i * q * k, 1))));
    thumbnails.push(entry("mean", matrixAt(0, h)));
  }
  const [first] = overview.blocks;
  const pooled = Boolean(first.pooled_from);
  return jsonBlob({
    model: overview.model,
    variant: overview.variant ?? null,
    text: overview.text,
    target: overview.target ?? null,
    tab: overview.tab,
    options: overview.options,
    max_size: overview.maxSize,
    pooled_from: pooled ? first.pooled_from.slice(1) : null,
    rows: { name: first.rows, tokens: pooled ? null : overview.tokens[first.rows] },
    cols: { name: first.cols, tokens: pooled ? null : overview.tokens[first.cols] },
    thumbnails,
  });
}
