// `wrangler deploy --dry-run` for the top level and every [env.*] of wrangler.toml,
// against the build already in build/ (a copy of the config without [build], so
// the Worker is not rebuilt once per environment). Exits non-zero on any failure.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { parse, stringify } from "smol-toml";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const config = parse(readFileSync(join(root, "wrangler.toml"), "utf8"));
delete config.build;
config.main = join(root, "build/index.js");
if (config.assets) config.assets.directory = join(root, config.assets.directory);
const dir = mkdtempSync(join(tmpdir(), "hookrelay-dry-run-"));
const path = join(dir, "wrangler.toml");
writeFileSync(path, stringify(config));

const environments = [null, ...Object.keys(config.env ?? {})];
for (const env of environments) {
  const args = ["deploy", "--dry-run", "--config", path, "--outdir", join(dir, env ?? "top")];
  if (env) args.push("--env", env);
  const out = execFileSync(join(root, "node_modules/.bin/wrangler"), args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
  const size = out.match(/Total Upload: .*/)?.[0] ?? "";
  console.log(`dry-run ${env ?? "(top level)"}: ok ${size}`);
}
