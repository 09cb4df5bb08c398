// The one guard against stale answers, used by every panel and every request. Each stream of
// requests (the run on show, the focused layer, the query opened step by step, the generation
// being written, the address being written…) is a lane: starting a request in a lane
// supersedes the one before it, which is aborted if it is still on the wire and whose answer,
// whenever it comes, is never delivered.

// Whether `error` says that a newer request took over (not a failure to report).
export function superseded(error) {
  return error?.name === "AbortError";
}

export class Lane {
  #controller = new AbortController();

  // The signal of the request now current in this lane: aborted once it is superseded.
  get signal() {
    return this.#controller.signal;
  }

  // Supersedes what the lane was doing; returns the signal of what comes next.
  next() {
    this.#controller.abort();
    this.#controller = new AbortController();
    return this.#controller.signal;
  }

  cancel() {
    this.#controller.abort();
  }

  // Runs `work(signal)` as the lane's current request. Resolves to what it returns; rejects
  // with an AbortError when another request (or cancel) superseded it meanwhile, whatever it
  // answered, so that only the newest answer is ever shown.
  async run(work) {
    const signal = this.next();
    try {
      const value = await work(signal);
      signal.throwIfAborted();
      return value;
    } catch (error) {
      signal.throwIfAborted();
      throw error;
    }
  }
}
