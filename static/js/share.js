// Keeps the address bar on the view on show, and copies it: a new run gets a history entry of
// its own (pushState), so Back returns to the previous run; a change of tab, layer, head,
// options or comparison rewrites the current entry (replaceState).

import { Lane } from "./lane.js";
import { LINK_LIMIT, linkFor } from "./permalink.js";

// Links are written in the order asked (compressing a long text is asynchronous); a Back or
// Forward drops the writes still queued, which belonged to the view being left: they are all
// one request of this lane, which the next supersedes.
let queue = Promise.resolve();
const writes = new Lane();

export function forgetPendingLinks() {
  writes.next();
}

// `mode`: "push" or "replace". `onChange` is called when the address actually changes.
export function writeLink(view, mode, onChange) {
  const { signal } = writes;
  queue = queue
    .then(async () => {
      const link = await linkFor(view);
      const current = `${location.pathname}${location.search}${location.hash}`;
      if (signal.aborted || link === current) return;
      if (mode === "push") history.pushState(null, "", link);
      else history.replaceState(null, "", link);
      onChange?.();
    })
    .catch((error) => console.error("The link of this view could not be written:", error));
  return queue;
}

const thousands = (n) => n.toLocaleString("en");

// Copies the page's link (once every queued write is done) to the clipboard; where the
// clipboard cannot be written (an insecure origin, a refused permission) the link is shown in
// `field`, selected, to copy by hand. `status` says which, and warns about a very long link.
export async function copyLink(status, field) {
  await queue;
  const link = location.href;
  const long =
    link.length > LINK_LIMIT
      ? ` — ${thousands(link.length)} characters: some browsers and apps cut links beyond ${thousands(LINK_LIMIT)}`
      : "";
  try {
    await navigator.clipboard.writeText(link);
    field.hidden = true;
    status.textContent = `Copied${long}`;
  } catch {
    field.value = link;
    field.hidden = false;
    field.focus();
    field.select();
    status.textContent = `Press Ctrl+C to copy the selected link${long}`;
  }
}
