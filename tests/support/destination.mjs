// A real HTTP destination on 127.0.0.1 that the tests control: per-path plans to
// answer (at once or after `delayMs`), fail, stall or rate-limit, and a record of
// every request it received.
import { createServer } from "node:http";

export async function startDestination() {
  const requests = [];
  const plans = new Map(); // path -> (request, index) => {status, body, headers} | {stall: true}
  const stalled = new Set();
  const server = createServer((req, res) => {
    const chunks = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", () => {
      const record = { path: req.url, headers: req.headers, body: Buffer.concat(chunks), at: Date.now(), answered: null };
      requests.push(record);
      const plan = plans.get(req.url);
      const seen = requests.filter((r) => r.path === req.url).length - 1;
      const answer = plan ? plan(record, seen) : { status: 200 };
      if (answer.stall) {
        stalled.add(res);
        res.on("close", () => stalled.delete(res));
        return;
      }
      const respond = () => {
        record.answered = answer.status;
        res.writeHead(answer.status, answer.headers ?? { "content-type": "text/plain" });
        res.end(answer.body ?? `answered ${answer.status}`);
      };
      if (answer.delayMs) setTimeout(respond, answer.delayMs);
      else respond();
    });
  });
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  const base = `http://127.0.0.1:${server.address().port}`;
  return {
    base,
    requests,
    /** A fresh URL on this destination, answered by `plan` (default: 200). */
    route(path, plan) {
      if (plan) plans.set(path, plan);
      return `${base}${path}`;
    },
    setPlan(path, plan) { plans.set(path, plan); },
    to(path) { return requests.filter((r) => r.path === path); },
    /** Requests answered 2xx for an event id (the relay's webhook-id). */
    deliveredFor(eventId) {
      return requests.filter((r) => r.headers["webhook-id"] === eventId && r.answered >= 200 && r.answered < 300);
    },
    /** Drops every stalled connection without answering. */
    dropStalled() {
      for (const res of stalled) res.destroy();
      stalled.clear();
    },
    close() {
      this.dropStalled();
      server.closeAllConnections?.();
      return new Promise((r) => server.close(r));
    },
  };
}

/** Answers with the given status codes in order, then the last one forever. */
export function sequence(...codes) {
  return (_req, i) => ({ status: codes[Math.min(i, codes.length - 1)] });
}
