// The numbers of what the page shows, as files: the view on show as JSON and CSV, and the
// overview's thumbnails as JSON.

import { entryMean, rowsOf } from "./blocks.js";

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

// The overview's numbers: every thumbnail's matrix as the server pooled it (at most
// `max_size` a side; uint8 on the wire, so each weight is within 1/510 of the float). A
// thumbnail of a pooled block has no token per row, so its labels are the block's size.
export function overviewJson(overview) {
  const thumbnails = [];
  for (const block of overview.blocks) {
    const [h, q, k] = block.shape;
    const entry = (head, rows) => ({ block: block.name, layer: block.layer, head, shape: [q, k], matrix: rows });
    const matrixAt = (offset, count) => rowsOf(entryMean(block.data, offset, count, q * k), q, k);
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
