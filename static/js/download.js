// Files the page hands to the browser as downloads, named for what they hold, and the bars of
// download buttons that make them.

// A file name part: letters, digits, dot, dash and underscore only.
function slug(value) {
  return String(value).replace(/[^A-Za-z0-9._-]+/g, "-");
}

// "{model}_{stack}-{kind}_layer3_head5_word-nospecial": the model (and variant), the block's
// stack and kind, the layer, the head (or mean, or rollout), and the options that are not the
// defaults.
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
