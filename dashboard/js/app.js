// The dashboard's shell: sign-in, the hash router (`#/events/evt_…`, so the
// Worker needs no fallback route), the navigation, and each page's lifetime
// (its timers stop when another page opens or the tab is hidden), and the live
// stream's chip.
import { api, session, onUnauthorized, can } from "./api.js";
import { $, h, fill, failure } from "./dom.js";
import { parseHash } from "./nav.js";
import * as live from "./live.js";
import * as overview from "./views/overview.js";
import * as endpoints from "./views/endpoints.js";
import * as endpointForm from "./views/endpoint_form.js";
import * as routes from "./views/routes.js";
import * as events from "./views/events.js";
import * as event from "./views/event.js";
import * as dead from "./views/dead.js";
import * as ingests from "./views/ingests.js";
import * as refusals from "./views/refusals.js";
import * as keys from "./views/keys.js";
import * as alerts from "./views/alerts.js";

const ROUTES = [
  [/^\/?$/, overview, "overview"],
  [/^\/endpoints$/, endpoints, "endpoints"],
  [/^\/endpoints\/new$/, endpointForm, "endpoints"],
  [/^\/endpoints\/(ep_[0-9A-Za-z]+)\/edit$/, endpointForm, "endpoints"],
  [/^\/endpoints\/(ep_[0-9A-Za-z]+)\/routes$/, routes, "endpoints"],
  [/^\/events$/, events, "events"],
  [/^\/events\/(evt_[0-9A-Za-z]+)$/, event, "events"],
  [/^\/dead$/, dead, "dead"],
  [/^\/ingests$/, ingests, "endpoints"],
  [/^\/refusals$/, refusals, "refusals"],
  [/^\/alerts$/, alerts, "alerts"],
  [/^\/keys$/, keys, "keys"],
];

const state = { who: null, page: null, gen: 0 };

function stopPage() {
  state.gen += 1;
  for (const fn of state.page?.cleanups ?? []) fn();
  state.page = null;
}

async function route({ focus = true } = {}) {
  if (!state.who) return;
  stopPage();
  const gen = state.gen;
  const { path, query } = parseHash();
  const main = $("#main");
  const match = ROUTES.map(([re, view, nav]) => ({ m: path.match(re), view, nav })).find((r) => r.m);
  for (const a of document.querySelectorAll("#nav a")) {
    if (match?.nav === a.dataset.page) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
  if (!match) {
    fill(main, h("section.page", h("h1", "Not found"), h("p", "No page here. ", h("a", { href: "#/" }, "Go to the overview."))));
    return;
  }
  const page = { cleanups: [] };
  state.page = page;
  const ctx = {
    main,
    role: state.who.role,
    can: (action) => can(state.who.role, action),
    params: match.m.slice(1),
    query,
    alive: () => state.gen === gen,
    onCleanup: (fn) => page.cleanups.push(fn),
    /**
     * Runs `fn` every `ms` while this page is open and the tab visible; with
     * `unlessLive`, only while the live stream is down (it refreshes instead).
     */
    every(ms, fn, { unlessLive = false } = {}) {
      let busy = false;
      const tick = async () => {
        if (busy || document.hidden || state.gen !== gen || (unlessLive && live.isLive())) return;
        busy = true;
        try { await fn(); } catch (err) { console.warn(err); } finally { busy = false; }
      };
      const id = setInterval(tick, ms);
      const onVisible = () => { if (!document.hidden) tick(); };
      document.addEventListener("visibilitychange", onVisible);
      page.cleanups.push(() => { clearInterval(id); document.removeEventListener("visibilitychange", onVisible); });
    },
    /**
     * Calls `fn(changes)` shortly after the live stream reports changes that
     * `wants` (all by default), batched over `delayMs`; and `fn([])` when the
     * stream comes back, to catch up on what it missed while down.
     */
    onLive(fn, { wants = () => true, delayMs = 250 } = {}) {
      let pending = [];
      let timer = null;
      const flush = async () => {
        timer = null;
        const batch = pending;
        pending = [];
        if (state.gen !== gen) return;
        try { await fn(batch); } catch (err) { console.warn(err); }
      };
      const offChange = live.onChange((change) => {
        if (!wants(change)) return;
        pending.push(change);
        timer ??= setTimeout(flush, delayMs);
      });
      let was = null;
      const offState = live.onState((now) => {
        if (now === "live" && was === "reconnecting") timer ??= setTimeout(flush, 0);
        was = now;
      });
      page.cleanups.push(() => { offChange(); offState(); clearTimeout(timer); });
    },
  };
  try {
    await match.view.render(ctx);
  } catch (err) {
    if (ctx.alive() && err.status !== 401) fill(main, h("section.page", failure(err)));
  }
  if (focus && ctx.alive()) main.focus({ preventScroll: true });
}

function showSignIn(message) {
  stopPage();
  live.stop();
  state.who = null;
  $("#shell").hidden = true;
  $("#signin").hidden = false;
  const msg = $("#signin-message");
  msg.hidden = !message;
  msg.textContent = message ?? "";
  fill($("#main"));
  $("#signin-key").value = "";
  $("#signin-key").focus();
}

function showShell(who) {
  state.who = who;
  $("#signin").hidden = true;
  $("#shell").hidden = false;
  const label = who.name ? `${who.name} · ${who.role}` : who.key_id ? who.role : `admin token`;
  fill($("#who"), label);
  $("#who").dataset.role = who.role;
  for (const a of document.querySelectorAll("#nav [data-role]")) a.hidden = !can(who.role, "keys");
  live.start();
  route();
}

/** The top bar's chip: whether pages follow the live stream or poll. */
live.onState((now) => {
  const chip = $("#live-state");
  chip.dataset.state = now;
  chip.hidden = now === "off";
  fill(chip, h("span.dot", { "aria-hidden": "true" }), now === "live" ? "Live" : now === "connecting" ? "Connecting…" : "Reconnecting (polling)");
  chip.title = now === "live" ? "Pages update as events change" : "The live stream is down; pages refresh every few seconds";
});

async function signIn(key) {
  const who = await api.whoami(key);
  if (who.role === "pull") {
    throw new Error("This is a pull key: it can only feed `hookrelay listen` for one destination. Sign in with a viewer, editor or admin key.");
  }
  session.key = key;
  showShell(who);
}

onUnauthorized.addEventListener("unauthorized", () => {
  session.clear();
  showSignIn("The relay refused your key (revoked, expired or changed). Sign in again.");
});

$("#signin-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const key = $("#signin-key").value.trim();
  const button = e.target.querySelector("button");
  button.disabled = true;
  try {
    await signIn(key);
  } catch (err) {
    const msg = $("#signin-message");
    msg.hidden = false;
    msg.textContent = err.status === 401 ? "That key was refused. Check it and try again." : err.message;
  } finally {
    button.disabled = false;
  }
});

$("#signout").addEventListener("click", () => {
  session.clear();
  showSignIn("Signed out.");
});

window.addEventListener("hashchange", () => route());

(async function start() {
  const key = session.key;
  if (!key) return showSignIn();
  try {
    await signIn(key);
  } catch (err) {
    session.clear();
    showSignIn(err.status === 401 ? "Your key was refused. Sign in again." : err.message);
  }
})();
