// The differ behind `make check-compat`: api-smart-diff's apiCompare over pairs of parsed specs, each
// first freed of allOf by allof-merge (api-smart-diff's own dependency): compared as written, api-smart-diff
// pairs the wrong allOf items once a referenced schema changes (ListedLead = allOf [Lead, ScoreBreakdown]),
// reporting a swapped $ref instead of the change, so the JSON paths it reports are of the merged schemas.
// Reads {"pairs": [[before, after], ...]} on stdin (Python parses the YAML, so no YAML library is needed
// here), writes one list of diffs per pair on stdout. Run by spec_compat/differ.py with NODE_PATH set to
// the cache folder it installed api-smart-diff into.
"use strict";
const { apiCompare } = require("api-smart-diff");
const { merge } = require("allof-merge");

const merged = (document) => merge(document, { mergeRefSibling: true, mergeCombinarySibling: true });

let input = "";
process.stdin.setEncoding("utf8");
process.stdin.on("data", (chunk) => (input += chunk));
process.stdin.on("end", () => {
  const { pairs } = JSON.parse(input);
  const results = pairs.map(([before, after]) =>
    apiCompare(merged(before), merged(after)).diffs.map((d) => ({
      action: d.action,
      path: d.path,
      type: d.type,
      description: d.description || "",
      before: d.before,
      after: d.after,
    }))
  );
  process.stdout.write(JSON.stringify(results));
});
