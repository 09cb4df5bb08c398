// The page's state in one place. `set` merges a patch and tells every subscriber which
// top-level fields changed, so that each panel redraws only for what it shows. A patch set
// while subscribers are being told is applied after them, in order: every subscriber sees
// every state, and sees them in the order they were set.

export function createStore(initial, settle = (state) => state) {
  let state = settle({ ...initial });
  const listeners = [];
  const pending = [];
  let telling = false;

  function set(patch) {
    pending.push(patch);
    if (telling) return;
    telling = true;
    try {
      while (pending.length) {
        const before = state;
        state = settle({ ...before, ...pending.shift() });
        const changed = new Set(Object.keys(state).filter((key) => state[key] !== before[key]));
        if (!changed.size) continue;
        for (const listener of listeners) listener(state, changed);
      }
    } finally {
      telling = false;
    }
  }

  // `listener(state, changed)`: `changed` is the Set of the fields that differ.
  function subscribe(listener) {
    listeners.push(listener);
  }

  return {
    get state() {
      return state;
    },
    set,
    subscribe,
  };
}

// Whether any of `fields` is among those `changed`.
export function touched(changed, ...fields) {
  return fields.some((field) => changed.has(field));
}
