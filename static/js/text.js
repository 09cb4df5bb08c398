// Token text is user input. The DOM gets it through textContent; Plotly, which reads a few
// HTML-like tags in labels (<b>, <br>, <a>), gets it with those characters escaped. Quotes
// are numeric entities: Plotly decodes those, but shows a named &quot; as it is.

// The font stack of every Plotly layout, the same as --font-sans in static/app.css: the
// common CJK fonts by name, so that 我爱吃苹果 never falls back to empty boxes.
export const FONT_FAMILY =
  'system-ui, -apple-system, "Segoe UI", "Noto Sans", "Noto Sans CJK SC", "Noto Sans SC", "Source Han Sans SC", "PingFang SC", "Hiragino Sans GB", "Microsoft YaHei", "WenQuanYi Micro Hei", sans-serif';

const ESCAPES = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&#34;", "'": "&#39;" };

export function plotlyText(value) {
  return String(value).replace(/[&<>"']/g, (ch) => ESCAPES[ch]);
}

export function el(tag, props = {}, children = []) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (key === "text") node.textContent = value;
    else if (key === "dataset") Object.assign(node.dataset, value);
    else if (key in node) node[key] = value;
    else node.setAttribute(key, value);
  }
  for (const child of children) node.append(child);
  return node;
}
