import { configDocs } from "./docs";

/** Every document generated from code, by repository path. */
export function generatedDocs(): Record<string, string> {
    return { "docs/CONFIG.md": configDocs() };
}
