// Attention blocks as flat Float32Arrays in [head, query, key] order, and the views of them
// the page draws: one head's matrix, or the mean over heads.

export const KINDS = [
  { key: "encoder.self_attn", label: "Encoder self-attention", rows: "source", cols: "source" },
  {
    key: "decoder.self_attn",
    label: "Decoder self-attention (masked)",
    rows: "target",
    cols: "target_input",
  },
  { key: "decoder.cross_attn", label: "Cross-attention (target → source)", rows: "target", cols: "source" },
];

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

function decodeData(block) {
  if (block.encoding === "uint8") {
    const bytes = base64Bytes(block.data);
    const data = new Float32Array(bytes.length);
    for (let i = 0; i < bytes.length; i += 1) data[i] = bytes[i] / 255;
    return data;
  }
  if (block.encoding === "float16") {
    const bytes = base64Bytes(block.data);
    const halves = new DataView(bytes.buffer);
    const data = new Float32Array(bytes.length / 2);
    for (let i = 0; i < data.length; i += 1) data[i] = HALF_TO_FLOAT[halves.getUint16(2 * i, true)];
    return data;
  }
  const [h, q, k] = block.shape;
  const data = new Float32Array(h * q * k);
  let i = 0;
  for (const head of block.data) {
    for (const row of head) {
      data.set(row, i);
      i += row.length;
    }
  }
  return data;
}

// A block from the wire (any encoding) with its data as one flat Float32Array.
export function fromWire(block) {
  return { ...block, kindKey: `${block.stack}.${block.kind}`, data: decodeData(block) };
}

// The matrix of one head (`head` is a position along axis 0) or the mean over all heads,
// as an array of rows, the shape Plotly's heatmap wants.
export function matrix(block, head) {
  const [h, q, k] = block.shape;
  const rows = [];
  for (let i = 0; i < q; i += 1) {
    if (head === MEAN) {
      const row = new Float32Array(k);
      for (let j = 0; j < h; j += 1) {
        const start = (j * q + i) * k;
        for (let c = 0; c < k; c += 1) row[c] += block.data[start + c] / h;
      }
      rows.push(Array.from(row));
    } else {
      const start = (head * q + i) * k;
      rows.push(Array.from(block.data.subarray(start, start + k)));
    }
  }
  return rows;
}

export function kindsPresent(blocks) {
  const present = new Set(blocks.map((b) => b.kindKey));
  return KINDS.filter((kind) => present.has(kind.key));
}
