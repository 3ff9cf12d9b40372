// Composes one subgraph SDL file into a supergraph with Apollo's own composition library,
// as Apollo Router / GraphOS would: exit 1 and print every error when it does not compose.
// Usage: node compose.mjs SUBGRAPH_NAME SDL_FILE [SUPERGRAPH_OUT]
import { readFileSync, writeFileSync } from "node:fs";
import { composeServices } from "@apollo/composition";
import { parse } from "graphql";

const [name, sdlFile, out] = process.argv.slice(2);
if (!name || !sdlFile) {
  console.error("usage: node compose.mjs SUBGRAPH_NAME SDL_FILE [SUPERGRAPH_OUT]");
  process.exit(2);
}
const typeDefs = parse(readFileSync(sdlFile, "utf8"));
const result = composeServices([{ name, typeDefs, url: "http://127.0.0.1:8000/graphql" }]);
if (result.errors && result.errors.length > 0) {
  console.error(`${sdlFile} does not compose as an Apollo Federation 2 subgraph:`);
  for (const error of result.errors) {
    console.error(`  ${error.extensions?.code ?? "ERROR"}: ${error.message}`);
  }
  process.exit(1);
}
for (const hint of result.hints ?? []) {
  console.error(`  hint ${hint.definition.code}: ${hint.message}`);
}
if (out) {
  writeFileSync(out, result.supergraphSdl);
}
console.log(`${sdlFile} composes: a supergraph of ${result.schema.types().length} types`);
