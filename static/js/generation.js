// The generation timeline's data: a decoder-only model writes its continuation one token at a
// time over Server-Sent Events, and each event lands in the store (`generation`) as it comes.
// What the timeline shows of it (step, layer, head) is `timeline`.

import { streamGeneration } from "./api.js";
import { MEAN } from "./blocks.js";
import { Lane, superseded } from "./lane.js";

const stream = new Lane();
let generations = 0; // each generation's id: the timeline rebuilds its tokens for a new one

// Why the model stopped writing, by the `stop` of the done event.
const STOPS = {
  eos: "it wrote its end-of-sequence token",
  max_new_tokens: "the token budget was spent",
  max_tokens: "the model's token limit was reached",
};

const count = (n, word) => `${n} ${word}${n === 1 ? "" : "s"}`;

function blank(model, fields) {
  generations += 1;
  return { id: generations, model, state: "idle", message: "", error: "", prompt: [], steps: [], budget: 0, ...fields };
}

// Offered to decoder-only models; any stream in flight stops, and the panel hides until the
// next generation.
export function offerGeneration(store, model) {
  stream.cancel();
  store.set({
    generation: blank(model, { offered: model.family === "decoder", message: "Press “Generate step by step”." }),
    timeline: { step: 0, follow: true, layer: Math.floor(model.layers / 2), head: MEAN },
  });
}

function update(store, fields) {
  store.set({ generation: { ...store.state.generation, ...fields } });
}

// Stops the stream in flight, if any (closing the connection stops the server's generation).
export function cancelGeneration(store, message = null) {
  const { generation } = store.state;
  if (generation?.state !== "streaming") return;
  stream.cancel();
  update(store, { state: "stopped", message: message ?? `Stopped after ${count(generation.steps.length, "token")}.` });
}

function writing(generation) {
  return `Writing… ${generation.steps.length} of up to ${count(generation.budget, "token")}`;
}

// One event of the stream into the store; true once the model has finished.
function receive(store, name, data) {
  const { generation, timeline } = store.state;
  if (name === "start") {
    const started = { ...generation, prompt: data.prompt, budget: data.max_new_tokens };
    store.set({ generation: { ...started, message: writing(started) } });
  } else if (name === "step") {
    const grown = { ...generation, steps: [...generation.steps, data] };
    const patch = { generation: { ...grown, message: writing(grown) } };
    if (timeline.follow) patch.timeline = { ...timeline, step: grown.steps.length - 1 };
    store.set(patch);
  } else if (name === "done") {
    const written = count(generation.steps.length, "token");
    update(store, { state: "done", message: `Done: ${written} written; ${STOPS[data.stop] ?? data.stop}.` });
  } else if (name === "error") {
    const message = `Stopped after ${count(generation.steps.length, "token")}: the server reported an error.`;
    update(store, { state: "error", error: data.detail, message });
  }
  return name === "done" || name === "error";
}

// Streams a generation of `model` from `text` into the store; any stream in flight stops.
export async function startGeneration(store, model, text) {
  cancelGeneration(store);
  store.set({
    generation: blank(model, { offered: true, shown: true, state: "streaming", message: `Waiting for ${model.name}…` }),
    timeline: { ...store.state.timeline, step: 0, follow: true },
  });
  let finished = false;
  try {
    await stream.run((signal) =>
      streamGeneration(
        { model: model.id, text, encoding: "float16" },
        {
          signal,
          // A superseded stream's last bytes may still be arriving: they are not this one's.
          onEvent: (name, data) => signal.aborted || (finished = receive(store, name, data) || finished),
        },
      ),
    );
    if (!finished) {
      const written = count(store.state.generation.steps.length, "token");
      const error = "The stream ended before the model finished. Has the server stopped?";
      update(store, { state: "error", error, message: `Stopped after ${written}.` });
    }
  } catch (error) {
    if (superseded(error)) return;
    update(store, { state: "error", error: error.message, message: "Nothing was written." });
  }
}

// Shows step `step`; the timeline follows the newest step while the model writes and that one
// is chosen.
export function selectStep(store, step) {
  const { generation, timeline } = store.state;
  const follow = generation.state === "streaming" && step === generation.steps.length - 1;
  store.set({ timeline: { ...timeline, step, follow } });
}
