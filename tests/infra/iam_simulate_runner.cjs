// Evaluate IAM requests with @cloud-copilot/iam-simulate (identity + resource policies, Deny, NotResource,
// every condition operator, same- and cross-account), in its strict mode: an unknown action, a resource
// type the action does not take or a context key the action does not know is an error, not a guess.
// usage: node iam_simulate_runner.cjs <path to the package's CommonJS entry>  < simulations.json
// stdin: a JSON list of simulations (the package's `Simulation` shape); stdout: a JSON list of
// {"result": "Allowed"|"ExplicitlyDenied"|"ImplicitlyDenied"|null, "errors": ..., "ignored": [...]}.
"use strict";

const { readFileSync } = require("node:fs");

async function main() {
  const { runSimulation } = require(process.argv[2]);
  const simulations = JSON.parse(readFileSync(0, "utf8"));
  const out = [];
  for (const simulation of simulations) {
    const response = await runSimulation(simulation, {});
    if (response.resultType === "error") {
      out.push({ result: null, errors: response.errors, ignored: [] });
    } else {
      const result = response.result || {};
      out.push({ result: response.overallResult, errors: null, ignored: result.ignoredContextKeys || [] });
    }
  }
  process.stdout.write(JSON.stringify(out));
}

main().catch((error) => {
  process.stderr.write(String(error && error.stack ? error.stack : error) + "\n");
  process.exit(2);
});
