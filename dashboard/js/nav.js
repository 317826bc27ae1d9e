// Hash links: `#/path?query`. The query holds a page's filters, so a link (or a
// reload) opens the page as it was.

export function parseHash() {
  const raw = location.hash.replace(/^#/, "") || "/";
  const [path, qs = ""] = raw.split("?");
  return { path, query: Object.fromEntries(new URLSearchParams(qs)) };
}

/** Builds `#/path?query` from an object, dropping empty values. */
export function link(path, query = {}) {
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== null && v !== "") params.set(k, v);
  const qs = params.toString();
  return `#${path}${qs ? `?${qs}` : ""}`;
}

/** Rewrites the current page's query without reopening the page. */
export function setQuery(query) {
  const { path } = parseHash();
  history.replaceState(null, "", link(path, query));
}
