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

export function fetchExplain(payload) {
  return postJson("/api/v1/explain", payload);
}

// What every head of a model does, scored once per model (and variant) on the server's probe
// texts; the first request for a model may take a few seconds while the server computes them.
export function fetchHeadRoles(model, variant) {
  const query = variant ? `?variant=${encodeURIComponent(variant)}` : "";
  return request(`/api/v1/models/${encodeURIComponent(model)}/heads${query}`);
}
