/** Regenerates the documents derived from code: docs/CONFIG.md (and, with monitoring, docs/ALERTS). */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { generatedDocs } from "../stack/generated-docs";

for (const [path, text] of Object.entries(generatedDocs())) {
    writeFileSync(join(__dirname, "..", path), text);
    console.log(`wrote ${path}`);
}
