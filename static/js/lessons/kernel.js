// The Nadaraya–Watson attention weights, the same formula the server computes:
// weights[q][i] = softmax over i of -((x_q - x_i) * w)^2 / 2.
// The Train animation uses it to draw the weights of each epoch's w; the last frame is
// the server's own matrix.

export function kernelWeights(queries, keys, w) {
  return queries.map((x) => {
    const scores = keys.map((xi) => -(((x - xi) * w) ** 2) / 2);
    const top = Math.max(...scores);
    const exps = scores.map((s) => Math.exp(s - top));
    const total = exps.reduce((a, b) => a + b, 0);
    return exps.map((e) => e / total);
  });
}
