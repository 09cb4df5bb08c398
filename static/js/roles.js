// Head roles (GET /api/v1/models/{id}/heads): a letter and a colour per role for the overview's
// thumbnails, the words that name a head's role, and the legend. The server says what each
// role means and its threshold; the page only picks the letters (colours are in app.css).

import { el } from "./text.js";

const LETTERS = {
  previous_token: "P",
  induction: "I",
  self: "D", // the diagonal
  alignment: "A",
  sink: "S",
  broad: "B",
};

export function roleName(role) {
  return role.replaceAll("_", " ");
}

// (block name, head) -> the head's entry, for a response of /heads.
export function roleLookup(body) {
  const entries = new Map();
  for (const entry of body.heads) entries.set(`${entry.block}/${entry.head}`, entry);
  return entries;
}

export function roleOf(lookup, blockName, head) {
  return lookup?.get(`${blockName}/${head}`) ?? null;
}

// "sink 0.93", or "no role" when no score passes its threshold.
export function describeRole(entry) {
  return entry.role === "none" ? "no role" : `${roleName(entry.role)} ${entry.score.toFixed(2)}`;
}

export function roleBadge(role) {
  return el("span", { className: "role-badge", text: LETTERS[role], dataset: { role }, ariaHidden: "true" });
}

// The roles scored on the heads of `blockNames`: each head lists a score for every role
// defined on its block.
function rolesScoredOn(body, blockNames) {
  const scored = new Set();
  for (const entry of body.heads) {
    if (blockNames.has(entry.block)) for (const role of Object.keys(entry.scores)) scored.add(role);
  }
  return scored;
}

// The legend for the blocks on show (`blockNames`): the roles their heads are scored for.
// `status` is { state: "loading" | "ready" | "failed", body, error }; `combined` is set when
// the overview shows one thumbnail per layer, which has no head to label.
export function drawLegend(container, status, blockNames, combined) {
  const intro = el("p", { className: "caption" });
  if (!status || status.state === "loading") {
    intro.textContent = "Head roles: the server is scoring this model's heads on its probe texts…";
    container.replaceChildren(intro);
    return;
  }
  if (status.state === "failed") {
    intro.textContent = `Head roles could not be loaded: ${status.error}`;
    container.replaceChildren(intro);
    return;
  }
  intro.textContent = combined
    ? "Head roles label single heads: choose “each head” under Combine heads to see them."
    : "Head roles, from this model's own attention on fixed probe texts (not on your sentence): each head gets the role whose score passes its threshold by most; unlabelled heads pass none.";
  const scored = rolesScoredOn(status.body, blockNames);
  const items = status.body.roles
    .filter((rule) => scored.has(rule.role))
    .map((rule) =>
      el("li", { dataset: { role: rule.role } }, [
        roleBadge(rule.role),
        el("b", { text: roleName(rule.role) }),
        el("span", { className: "meaning", text: ` ${rule.meaning} (score ≥ ${rule.threshold})` }),
      ]),
    );
  container.replaceChildren(intro, el("ul", { className: "roles-legend-items" }, combined ? [] : items));
}
