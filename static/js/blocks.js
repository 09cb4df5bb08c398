// Attention blocks as flat Float32Arrays in [entry, query, key] order, and the views of them
// the page draws: one entry's matrix, or the mean over entries. What a block is and which
// tokens label it comes with the block itself (label, rows, cols): no table of kinds here.

export const MEAN = "mean";

// IEEE half float -> float32 for every 16-bit pattern: decoding is then one lookup a weight.
const HALF_TO_FLOAT = (() => {
  const table = new Float32Array(65536);
  for (let bits = 0; bits < 65536; bits += 1) {
    const sign = bits >> 15 ? -1 : 1;
    const exponent = (bits >> 10) & 31;
    const fraction = bits & 1023;
    let value;
    if (exponent === 0) value = fraction * 2 ** -24;
    else if (exponent === 31) value = fraction ? NaN : Infinity;
    else value = (1 + fraction / 1024) * 2 ** (exponent - 15);
    table[bits] = sign * value;
  }
  return table;
})();

function base64Bytes(text) {
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i += 1) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

function halves(text) {
  const bytes = base64Bytes(text);
  const view = new DataView(bytes.buffer);
  const data = new Float32Array(bytes.length / 2);
  for (let i = 0; i < data.length; i += 1) data[i] = HALF_TO_FLOAT[view.getUint16(2 * i, true)];
  return data;
}

// Nested JSON lists of any depth, flattened in row-major order.
function flatten(nested) {
  return Float32Array.from(nested.flat(Infinity));
}

function decodeData(block) {
  if (block.encoding === "uint8") {
    const bytes = base64Bytes(block.data);
    const data = new Float32Array(bytes.length);
    for (let i = 0; i < bytes.length; i += 1) data[i] = bytes[i] / 255;
    return data;
  }
  if (block.encoding === "float16") return halves(block.data);
  return flatten(block.data);
}

// Row totals (value-norm weighting only) are half floats whenever the weights travel compactly.
function decodeRowTotals(totals) {
  if (totals == null) return null;
  return typeof totals === "string" ? halves(totals) : flatten(totals);
}

// A block from the wire (any encoding) with its data as one flat Float32Array and, under
// value-norm weighting, its row totals as one flat Float32Array [entry, query].
export function fromWire(block) {
  return { ...block, data: decodeData(block), rowTotals: decodeRowTotals(block.row_totals) };
}

// The head mean, the one place it is computed: the mean of `count` consecutive slices of
// `size` values in `data` from `offset` (the heads of a block, or of one layer of a generation
// step), value by value.
export function entryMean(data, offset, count, size) {
  const mean = new Float32Array(size);
  for (let entry = 0; entry < count; entry += 1) {
    const start = offset + entry * size;
    for (let i = 0; i < size; i += 1) mean[i] += data[start + i] / count;
  }
  return mean;
}

// A flat [rows, cols] slice as an array of rows, the shape Plotly's heatmap wants.
export function rowsOf(flat, rows, cols) {
  return Array.from({ length: rows }, (_, i) => Array.from(flat.subarray(i * cols, (i + 1) * cols)));
}

// The matrix of one entry (`head` is a position along axis 0) or the mean over all entries,
// as an array of rows.
export function matrix(block, head) {
  const [h, q, k] = block.shape;
  const size = q * k;
  const flat = head === MEAN ? entryMean(block.data, 0, h, size) : block.data.subarray(head * size, (head + 1) * size);
  return rowsOf(flat, q, k);
}

// Each row's total before normalizing (value-norm weighting), for one entry or the mean over
// entries; null when the block carries none.
export function rowTotals(block, head) {
  if (!block.rowTotals) return null;
  const [h, q] = block.shape;
  const totals =
    head === MEAN ? entryMean(block.rowTotals, 0, h, q) : block.rowTotals.subarray(head * q, (head + 1) * q);
  return Array.from(totals);
}

// A token list's name (a block's `rows` or `cols`) as a reader says it: "target input".
export function listName(name) {
  return name.replaceAll("_", " ");
}

// The blocks grouped into views by the label the response gives them, in the order it lists
// them: one group per tab, one block per layer in each.
export function groupByLabel(blocks) {
  const groups = new Map();
  for (const block of blocks) {
    if (!groups.has(block.label)) groups.set(block.label, { label: block.label, blocks: [] });
    groups.get(block.label).blocks.push(block);
  }
  return [...groups.values()];
}
