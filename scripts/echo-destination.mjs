// The demo destination for `make dev`: prints every delivery the relay makes and
// whether its webhook-signature verifies with the endpoint's relay secret.
import { createServer } from "node:http";
import { createHmac } from "node:crypto";

const port = Number(process.env.ECHO_PORT ?? 8788);
const relaySecret = process.env.RELAY_SECRET ?? "";

function signatureOk(headers, body) {
  if (!relaySecret) return "unknown";
  const key = Buffer.from(relaySecret.replace(/^whsec_/, ""), "base64");
  const signed = Buffer.concat([Buffer.from(`${headers["webhook-id"]}.${headers["webhook-timestamp"]}.`), body]);
  const expected = `v1,${createHmac("sha256", key).update(signed).digest("base64")}`;
  return (headers["webhook-signature"] ?? "").split(" ").includes(expected) ? "valid" : "INVALID";
}

createServer((req, res) => {
  const chunks = [];
  req.on("data", (c) => chunks.push(c));
  req.on("end", () => {
    const body = Buffer.concat(chunks);
    console.log(
      `[destination] ${new Date().toISOString()} ${req.method} ${req.url} webhook-id=${req.headers["webhook-id"]} ` +
        `attempt=${req.headers["x-hookrelay-attempt"]} signature=${signatureOk(req.headers, body)} body=${body.toString("utf8").slice(0, 200)}`,
    );
    res.writeHead(200, { "content-type": "text/plain" });
    res.end("ok");
  });
}).listen(port, "127.0.0.1", () => console.log(`[destination] listening on http://127.0.0.1:${port}`));
