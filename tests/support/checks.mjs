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
