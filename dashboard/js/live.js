// The live stream (GET /api/v1/stream): one connection for the whole
// dashboard, read with fetch (EventSource cannot send a bearer header). Pages
// take its changes to refresh at once; while it is down they poll as before,
// and the chip in the top bar says which: Live, or Reconnecting (polling).
import { session } from "./api.js";

const changeListeners = new Set();
const stateListeners = new Set();
let state = "off"; // "connecting" | "live" | "reconnecting" | "off"
let controller = null;
let retryTimer = null;
let failures = 0;

/** Opens the stream (once) for the signed-in key. */
export function start() {
  if (controller || retryTimer || !session.key) return;
  connect();
}

/** Closes it (sign-out). */
export function stop() {
  const open = controller;
  controller = null;
  open?.abort();
  clearTimeout(retryTimer);
  retryTimer = null;
  failures = 0;
  setState("off");
}

export const isLive = () => state === "live";

/** Calls `fn(change)` for every change; returns the unsubscribe. */
export function onChange(fn) {
  changeListeners.add(fn);
  return () => changeListeners.delete(fn);
}

/** Calls `fn(state)` now and on every change of state; returns the unsubscribe. */
export function onState(fn) {
  stateListeners.add(fn);
  fn(state);
  return () => stateListeners.delete(fn);
}

function setState(next) {
  if (next === state) return;
  state = next;
  for (const fn of stateListeners) fn(state);
}

async function connect() {
  retryTimer = null;
  const mine = new AbortController();
  controller = mine;
  setState(failures ? "reconnecting" : "connecting");
  let refused = false;
  try {
    const res = await fetch("/api/v1/stream", { headers: { authorization: `Bearer ${session.key}` }, signal: mine.signal, cache: "no-store" });
    refused = res.status === 401 || res.status === 403;
    if (!res.ok || !res.body) throw new Error(`HTTP ${res.status}`);
    const reader = res.body.getReader();
    const decoder = new TextDecoder();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      failures = 0;
      setState("live");
      buffer += decoder.decode(value, { stream: true });
      let end;
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        dispatch(buffer.slice(0, end));
        buffer = buffer.slice(end + 2);
      }
    }
  } catch {
    // Dropped, refused or unreachable: polled until it is back.
  }
  if (controller !== mine) return;
  controller = null;
  if (refused) {
    setState("off");
    return;
  }
  failures += 1;
  setState("reconnecting");
  retryTimer = setTimeout(connect, Math.min(15_000, 1000 * 2 ** Math.min(failures - 1, 4)));
}

/** One server-sent event: an `event` message's JSON goes to the listeners; comments are ignored. */
function dispatch(block) {
  let event = "message";
  const data = [];
  for (const line of block.split("\n")) {
    if (line.startsWith("event:")) event = line.slice(6).trim();
    else if (line.startsWith("data:")) data.push(line.slice(5).trimStart());
  }
  if (event !== "event" || !data.length) return;
  let change;
  try { change = JSON.parse(data.join("\n")); } catch { return; }
  for (const fn of changeListeners) fn(change);
}
