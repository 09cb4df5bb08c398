// Viridis, the same sequential colour scale Plotly draws the main heatmap with, as a
// 256-entry lookup table for the canvas thumbnails.

const ANCHORS = [
  [68, 1, 84], [72, 40, 120], [62, 74, 137], [49, 104, 142], [38, 130, 142],
  [31, 158, 137], [53, 183, 121], [109, 205, 89], [180, 222, 44], [253, 231, 37],
];

export const VIRIDIS = (() => {
  const table = new Uint8ClampedArray(256 * 3);
  for (let i = 0; i < 256; i += 1) {
    const position = (i / 255) * (ANCHORS.length - 1);
    const low = Math.floor(position);
    const high = Math.min(low + 1, ANCHORS.length - 1);
    const t = position - low;
    for (let c = 0; c < 3; c += 1) {
      table[i * 3 + c] = ANCHORS[low][c] + (ANCHORS[high][c] - ANCHORS[low][c]) * t;
    }
  }
  return table;
})();
