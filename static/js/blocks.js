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

export function fromJson(block) {
  const [h, q, k] = block.shape;
  const data = new Float32Array(h * q * k);
  let i = 0;
  for (const head of block.data) {
    for (const row of head) {
      data.set(row, i);
      i += row.length;
    }
  }
  return { ...block, kindKey: `${block.stack}.${block.kind}`, data };
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
