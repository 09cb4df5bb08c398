// POSTs a lesson request; every failure becomes an Error whose message a person can act on.

async function errorMessage(response) {
  try {
    const body = await response.json();
    if (body && typeof body.detail === "string") return body.detail;
  } catch {
    // Not JSON (a proxy error page, say): fall through to the status line.
  }
  return `The server answered ${response.status} ${response.statusText}.`;
}

export async function postJson(path, payload, signal) {
  let response;
  try {
    response = await fetch(path, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(payload),
      signal,
    });
  } catch (error) {
    if (error.name === "AbortError") throw error;
    throw new Error("The server could not be reached. Is it still running?");
  }
  if (!response.ok) throw new Error(await errorMessage(response));
  return response.json();
}

// A whole number from a number input, or an Error that names the field and its range.
export function wholeNumber(input, label) {
  const value = Number(input.value);
  const min = Number(input.min);
  const max = Number(input.max);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new Error(`${label} must be a whole number from ${min} to ${max}.`);
  }
  return value;
}
