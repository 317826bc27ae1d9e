// Assertions shared by the scenarios; every scenario ends with the conservation check.
import assert from "node:assert/strict";

/**
 * received = delivered + dead + in_flight, for the endpoint and overall; with
 * `expect`, the endpoint's figures must also equal what the test itself did.
 */
export async function assertConservation(relay, endpointId, expect = {}) {
  for (const scope of [endpointId, undefined]) {
    const { counts } = await relay.health(scope);
    assert.equal(counts.received, counts.delivered + counts.dead + counts.in_flight,
      `conservation broken ${scope ?? "overall"}: ${JSON.stringify(counts)}`);
  }
  const { counts } = await relay.health(endpointId);
  for (const [key, value] of Object.entries(expect)) {
    assert.equal(counts[key], value, `${key} for ${endpointId}: ${JSON.stringify(counts)}`);
  }
  return counts;
}

/**
 * Per route: events = delivered + dead + in_flight, from the route's own
 * counts; with `expect`, its figures must also equal what the test did.
 */
export async function assertRouteConservation(relay, routeId, expect = {}) {
  const res = await relay.api("GET", `/routes/${routeId}`);
  assert.equal(res.status, 200, `route ${routeId}: ${res.text}`);
  const { counts } = res.json;
  assert.equal(counts.events, counts.delivered + counts.dead + counts.in_flight,
    `route conservation broken ${routeId}: ${JSON.stringify(counts)}`);
  for (const [key, value] of Object.entries(expect)) {
    assert.equal(counts[key], value, `${key} for route ${routeId}: ${JSON.stringify(counts)}`);
  }
  return counts;
}

/**
 * Per request: received = routed + filtered, for the endpoint and overall, as
 * health reports it; the stats API reports the same figures for the endpoint,
 * and the filtered ones are exactly those the ingests list shows as filtered.
 * With `expect`, the endpoint's figures must also equal what the test did.
 */
export async function assertRequests(relay, endpointId, expect = {}) {
  for (const scope of [endpointId, undefined]) {
    const { requests } = await relay.health(scope);
    assert.equal(requests.received, requests.routed + requests.filtered,
      `request conservation broken ${scope ?? "overall"}: ${JSON.stringify(requests)}`);
  }
  const { requests } = await relay.health(endpointId);
  const stats = await relay.api("GET", `/stats/endpoints?endpoint_id=${endpointId}`);
  assert.deepEqual(stats.json.data[0]?.requests, requests, "the stats API and health agree");
  const filtered = await relay.api("GET", `/ingests?endpoint_id=${endpointId}&status=filtered&limit=200`);
  assert.equal(filtered.status, 200, filtered.text);
  if (requests.filtered < 200) assert.equal(filtered.json.data.length, requests.filtered, "every filtered ingest is listed");
  assert.ok(filtered.json.data.every((i) => i.status === "filtered" && i.event_ids.length === 0 && i.endpoint_id === endpointId));
  for (const [key, value] of Object.entries(expect)) {
    assert.equal(requests[key], value, `requests ${key} for ${endpointId}: ${JSON.stringify(requests)}`);
  }
  return requests;
}

/**
 * The stats API's routes of an endpoint: each route's events = delivered + dead
 * + in_flight, equal to the route API's own counts, and together the
 * endpoint's events. `expect` maps a route id to figures it must have
 * (`total`, `delivered`, `dead`, `in_flight`, `failure_streak`, ...).
 * Returns the routes by id.
 */
export async function assertRouteFigures(relay, endpointId, expect = {}) {
  const res = await relay.api("GET", `/stats/endpoints?endpoint_id=${endpointId}`);
  assert.equal(res.status, 200, res.text);
  const [figures] = res.json.data;
  assert.equal(figures?.endpoint_id, endpointId);
  assert.equal(figures.routes[0].route_id, endpointId, "the endpoint is its own first route, listed first");
  const byId = new Map(figures.routes.map((r) => [r.route_id, r]));
  for (const route of figures.routes) {
    const { total, delivered, dead, in_flight } = route.events;
    assert.equal(total, delivered + dead + in_flight, `route conservation broken ${route.route_id}: ${JSON.stringify(route.events)}`);
    const own = await assertRouteConservation(relay, route.route_id);
    assert.deepEqual({ total, delivered, dead, in_flight },
      { total: own.events, delivered: own.delivered, dead: own.dead, in_flight: own.in_flight },
      `the stats API and the route API agree on ${route.route_id}`);
  }
  const sum = figures.routes.reduce((n, r) => n + r.events.total, 0);
  assert.equal(sum, figures.counts.received, "the routes' events are the endpoint's events");
  for (const [routeId, want] of Object.entries(expect)) {
    const route = byId.get(routeId);
    assert.ok(route, `route ${routeId} is listed`);
    for (const [key, value] of Object.entries(want)) {
      const got = key in route.events ? route.events[key] : route[key];
      assert.equal(got, value, `${key} of route ${routeId}: ${JSON.stringify(route)}`);
    }
  }
  return byId;
}
