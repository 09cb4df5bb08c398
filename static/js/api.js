// Talks to the REST API; every failure becomes an Error whose message a person can act on.

async function errorMessage(response) {
  try {
    const body = await response.json();
    if (body && typeof body.detail === "string") return body.detail;
  } catch {
    // Not JSON (a proxy error page, say): fall through to the status line.
  }
  return `The server answered ${response.status} ${response.statusText}.`;
}

async function request(path, options = {}) {
  let response;
  try {
    response = await fetch(path, options);
  } catch (error) {
    // A superseded request was cancelled on purpose: the caller tells that apart.
    if (error.name === "AbortError") throw error;
    throw new Error("The server could not be reached. Is it still running?");
  }
  if (!response.ok) throw new Error(await errorMessage(response));
  return response.json();
}

export function postJson(path, payload, signal) {
  return request(path, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(payload),
    signal,
  });
}

export async function fetchModels() {
  const body = await request("/api/v1/models");
  return body.models;
}

export function fetchAttention(payload, signal) {
  return postJson("/api/v1/attention", payload, signal);
}

export function fetchExplain(payload, signal) {
  return postJson("/api/v1/explain", payload, signal);
}

export function fetchAlignment(payload, signal) {
  return postJson("/api/v1/align", payload, signal);
}

// What every head of a model does, scored once per model (and variant) on the server's probe
// texts; the first request for a model may take a few seconds while the server computes them.
export function fetchHeadRoles(model, variant) {
  const query = variant ? `?variant=${encodeURIComponent(variant)}` : "";
  return request(`/api/v1/models/${encodeURIComponent(model)}/heads${query}`);
}

// One Server-Sent Event (a frame between blank lines) as { name, data }; null for a comment.
function parseEvent(frame) {
  let name = "message";
  const data = [];
  for (const line of frame.split("\n")) {
    if (!line || line.startsWith(":")) continue;
    const colon = line.indexOf(":");
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    if (field === "event") name = value;
    else if (field === "data") data.push(value);
  }
  return data.length ? { name, data: JSON.parse(data.join("\n")) } : null;
}

// POSTs `payload` and calls onEvent(name, data) for each Server-Sent Event as it arrives.
// fetch and a stream reader, not EventSource: EventSource can only GET. A refused request
// (4xx/5xx) throws like any other; aborting `signal` stops reading and closes the connection.
export async function streamEvents(path, payload, { signal, onEvent }) {
  let response;
  try {
    response = await fetch(path, {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "text/event-stream" },
      body: JSON.stringify(payload),
      signal,
    });
  } catch (error) {
    if (error.name === "AbortError") throw error;
    throw new Error("The server could not be reached. Is it still running?");
  }
  if (!response.ok) throw new Error(await errorMessage(response));
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value;
    let end = buffer.indexOf("\n\n");
    while (end >= 0) {
      const event = parseEvent(buffer.slice(0, end));
      buffer = buffer.slice(end + 2);
      if (event) onEvent(event.name, event.data);
      end = buffer.indexOf("\n\n");
    }
  }
}

export function streamGeneration(payload, { signal, onEvent }) {
  return streamEvents("/api/v1/generate", payload, { signal, onEvent });
}
