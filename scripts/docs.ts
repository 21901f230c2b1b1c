/** Regenerates the documents derived from code: docs/CONFIG.md (and, with monitoring, docs/ALERTS). */
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { generatedDocs } from "../stack/generated-docs";

for (const [path, text] of Object.entries(generatedDocs())) {
    mkdirSync(dirname(join(__dirname, "..", path)), { recursive: true });
    writeFileSync(join(__dirname, "..", path), text);
    console.log(`wrote ${path}`);
}
