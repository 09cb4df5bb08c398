// The input form: what a model offers (its description, variants, examples, options and
// whether it reads a target), and the run the form asks for.

import { offerOptions } from "./options.js";
import { el } from "./text.js";

const $ = (id) => document.getElementById(id);

const TARGET_HINTS = {
  decoder: "Appended to the text and forced through the model. Leave empty to let it generate.",
  "encoder-decoder": "Your translation: the model is forced to read it, so you see its alignment. Leave empty to let the model translate.",
};

const count = (n, word) => `${n} ${word}${n === 1 ? "" : "s"}`;

// Each example fills the form and runs it, as the Run button does.
function fillExamples(model) {
  const chips = model.examples.map((example) => {
    const label = example.target ? `${example.text} → ${example.target}` : example.text;
    const chip = el("button", { type: "button", className: "chip", text: label });
    chip.addEventListener("click", () => {
      $("text").value = example.text;
      $("target").value = example.target ?? "";
      $("run-form").requestSubmit();
    });
    return chip;
  });
  $("examples").replaceChildren(...chips);
}

// Sets the form up for `model`; its first example fills the text unless `keepText`.
export function offerModel(model, { keepText = false } = {}) {
  $("model").value = model.id;
  $("model-description").textContent = model.description;
  $("model-facts").textContent = `${model.family} · ${count(model.layers, "layer")} × ${count(model.heads, "head")} · up to ${count(model.max_tokens, "token")} · ${model.languages.join(", ")}`;
  const hasVariants = model.variants.length > 0;
  $("variant").hidden = !hasVariants;
  $("variant-label").hidden = !hasVariants;
  $("variant").replaceChildren(
    ...model.variants.map((v) => el("option", { value: v, text: v, selected: v === model.default_variant })),
  );
  const takesTarget = model.family !== "encoder";
  $("target-row").hidden = !takesTarget;
  $("pair-target-row").hidden = !takesTarget;
  $("target-hint").textContent = TARGET_HINTS[model.family] ?? "";
  const targetName = model.family === "encoder-decoder" ? "Your translation" : "Continuation";
  $("target-label").textContent = `${targetName} (optional)`;
  $("pair-target-label").textContent = `${targetName} for B (optional)`;
  if (!keepText) {
    $("text").value = model.examples[0]?.text ?? "";
    $("target").value = model.examples[0]?.target ?? "";
  }
  fillExamples(model);
  offerOptions($("options"), model);
}

// The text typed, or null when there is none (the caller says so).
export function typedText() {
  const text = $("text").value;
  return text.trim() ? text : null;
}

export const NO_TEXT = "Type a sentence first.";

// A run's request: the target only for a model that reads one, the variant only for a model
// that has them.
export function runRequest(model, text, target, variant) {
  const request = { model: model.id, text };
  if (model.family !== "encoder" && target.trim()) request.target = target;
  if (model.variants.length) request.variant = variant;
  return request;
}

// The run the form asks for, of `text` on `model`.
export function formRequest(model, text) {
  return runRequest(model, text, $("target").value, $("variant").value);
}
