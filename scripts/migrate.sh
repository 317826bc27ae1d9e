#!/usr/bin/env bash
# Applies the relay's migrations to every D1 database an environment binds:
# the control database DB and each shard DB_SHARD_<n> (every database gets
# every migration; see migrations/0027_endpoint_shards.sql). The arguments go
# to each `wrangler d1 migrations apply`:
#   bash scripts/migrate.sh --local [--persist-to DIR]     # local state
#   bash scripts/migrate.sh --remote [--env production]    # Cloudflare
# Run it after adding a shard, and after pulling new migrations.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/node_modules/.bin:$PATH"

env_name=""
config="wrangler.toml"
args=("$@")
for ((i = 0; i < ${#args[@]}; i++)); do
  case "${args[$i]}" in
    --env) env_name="${args[$((i + 1))]:-}" ;;
    --env=*) env_name="${args[$i]#--env=}" ;;
    --config|-c) config="${args[$((i + 1))]:-}" ;;
    --config=*) config="${args[$i]#--config=}" ;;
  esac
done

bindings="$(CONFIG="$config" ENV_NAME="$env_name" node --input-type=module -e '
  import { readFileSync } from "node:fs";
  import { parse } from "smol-toml";
  const config = parse(readFileSync(process.env.CONFIG, "utf8"));
  const env = process.env.ENV_NAME ? config.env?.[process.env.ENV_NAME] ?? {} : config;
  const bindings = (env.d1_databases ?? []).map((d) => d.binding);
  if (!bindings.includes("DB")) throw new Error(`no DB binding in ${process.env.ENV_NAME || "the top level"}`);
  console.log(bindings.join(" "));
')"

for binding in $bindings; do
  echo "[migrate] $binding"
  wrangler d1 migrations apply "$binding" "$@"
done
