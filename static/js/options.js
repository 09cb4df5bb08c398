// The analysis options: the controls that choose them, what a model offers, and the words
// that say which are on. The server applies them to its cached run, so switching costs no
// forward pass: the page only re-fetches.

export const DEFAULT_OPTIONS = {
  granularity: "token",
  special_tokens: "keep",
  aggregate: "none",
  weighting: "attention",
};

// Why a model may lack an option, shown on the disabled control.
const UNAVAILABLE = {
  aggregate: {
    rollout: "rollout composes one stack's self-attention; not defined for encoder-decoder models",
  },
  weighting: {
    value_norm: "this model's value vectors are not available",
  },
};

function radios(form, name) {
  return [...form.querySelectorAll(`input[type=radio][name="${name}"]`)];
}

export function readOptions(form) {
  const checked = (name) => radios(form, name).find((r) => r.checked)?.value ?? DEFAULT_OPTIONS[name];
  return {
    granularity: checked("granularity"),
    special_tokens: form.querySelector("#hide-special").checked ? "drop" : "keep",
    aggregate: checked("aggregate"),
    weighting: checked("weighting"),
  };
}

// Sets the controls to `options` (a link's), which the model is known to offer.
export function writeOptions(form, options) {
  for (const name of ["granularity", "aggregate", "weighting"]) {
    for (const radio of radios(form, name)) radio.checked = radio.value === options[name];
  }
  form.querySelector("#hide-special").checked = options.special_tokens === "drop";
}

// Disables (never hides) what `model` does not offer, and puts any such choice back to the
// default, so the next request asks only for what the model can do.
export function offerOptions(form, model) {
  const offered = { aggregate: model.aggregates, weighting: model.weightings };
  for (const [name, values] of Object.entries(offered)) {
    for (const radio of radios(form, name)) {
      const available = values.includes(radio.value);
      radio.disabled = !available;
      const label = radio.closest("label");
      label.title = available ? "" : `Not offered by ${model.name}: ${UNAVAILABLE[name][radio.value]}`;
      label.classList.toggle("unavailable", !available);
      if (!available && radio.checked) {
        radio.checked = false;
        radios(form, name).find((r) => r.value === DEFAULT_OPTIONS[name]).checked = true;
      }
    }
  }
}

// Options as applied by the server, in words: "Word level · special tokens hidden · rollout".
export function describeOptions(options) {
  const parts = [];
  if (options.granularity === "word") parts.push("word level");
  if (options.special_tokens === "drop") parts.push("special tokens hidden");
  if (options.aggregate === "heads") parts.push("mean over heads");
  if (options.aggregate === "rollout") parts.push("rollout across layers");
  if (options.weighting === "value_norm") parts.push("value-weighted ‖α·f(x)‖");
  if (!parts.length) return "Raw attention: tokens, each head";
  const text = parts.join(" · ");
  return text[0].toUpperCase() + text.slice(1);
}

// What the single entry of each block is when the server combined the heads, in words; null
// when each block has one entry per head.
export function combinedEntry(options) {
  if (options.aggregate === "heads") return "mean over heads";
  if (options.aggregate === "rollout") return "rollout";
  return null;
}
