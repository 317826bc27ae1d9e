# The two commands of the README. Both install whatever is missing first.
.PHONY: dev test build bench docs

dev:    ## run the relay locally with a demo endpoint
	bash scripts/dev.sh

test:   ## run every test
	bash scripts/test.sh

build:  ## release build of the Worker into build/
	bash scripts/setup.sh && bash scripts/build.sh

bench:  ## ingest vs a bare Rust Worker, fan-out, end-to-end lag, pull vs push, the capacity ledger, wasm size
	bash scripts/setup.sh && bash scripts/build.sh && bash scripts/build-bare.sh >/dev/null && cargo build -p hookrelay-cli --quiet && PATH="$$PWD/node_modules/.bin:$$PATH" node scripts/bench.mjs

docs:   ## rewrite what is generated: the table in docs/providers.md (from the provider registry) and src/api/openapi.json (from the operations table in openapi/, the API's types and openapi/written.json)
	HOOKRELAY_WRITE_DOCS=1 cargo test -p hookrelay-core --lib --quiet verify::catalog::tests::the_providers_doc_is_the_registry
	HOOKRELAY_WRITE_DOCS=1 cargo test -p hookrelay-openapi --lib --quiet tests::the_served_document_is_generated
