/** Reads Pulumi.<stack>.yaml into the `project:key` -> string map Pulumi hands a program. */
import { readFileSync } from "node:fs";
import { parse } from "yaml";

export interface StackFile {
    config: Record<string, string>;
    secretKeys: string[];
    /** keys holding `secure:` ciphertext, which only the Pulumi CLI can decrypt */
    encrypted: string[];
}

export function readStackFile(path: string): StackFile {
    const doc = (parse(readFileSync(path, "utf8")) ?? {}) as { config?: Record<string, unknown> };
    const config: Record<string, string> = {};
    const encrypted: string[] = [];
    for (const [key, value] of Object.entries(doc.config ?? {})) {
        if (typeof value === "object" && value !== null && "secure" in value) {
            encrypted.push(key);
            continue;
        }
        config[key] = typeof value === "string" ? value : JSON.stringify(value);
    }
    return { config, secretKeys: [], encrypted };
}
