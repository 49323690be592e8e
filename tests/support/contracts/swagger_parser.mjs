// Validate OpenAPI documents with swagger-parser; print {path: [error, ...]} as JSON.
//
//     node swagger_parser.mjs TOOLS_DIR DOCUMENT [DOCUMENT ...]
//
// TOOLS_DIR is where `make contract-tools` installed the locked packages
// (.local/tools/contracts): they are loaded from there, so this file stays in the repository.
import { createRequire } from "node:module";
import path from "node:path";

const [toolsDir, ...documents] = process.argv.slice(2);
const require = createRequire(path.resolve(toolsDir, "package.json"));
const SwaggerParser = require("@apidevtools/swagger-parser");

const results = {};
for (const document of documents) {
  try {
    // Dereferences every $ref and validates against the OpenAPI 3.x schema and the spec's rules.
    await SwaggerParser.validate(document);
    results[document] = [];
  } catch (error) {
    results[document] = [String(error.message)];
  }
}
console.log(JSON.stringify(results));
