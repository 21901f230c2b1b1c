/** Reads Pulumi.<stack>.yaml into the `project:key` -> string map Pulumi hands a program. */
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { parse } from "yaml";

export interface StackFile {
    config: Record<string, string>;
    /** keys Pulumi would hand the program as secrets (here: the `secure:` ones, with stand-in values) */
    secretKeys: string[];
    /** keys holding `secure:` ciphertext, which only the Pulumi CLI can decrypt */
    encrypted: string[];
}

/** A user mistake in the stack file itself (missing, not YAML, not a config map). */
export class StackFileError extends Error {
    override name = "StackFileError";
}

/**
 * A deterministic, valid-looking value for a `secure:` key, so the program sees the
 * key as set (and secret) without the ciphertext being decrypted. It follows the
 * ciphertext: a changed secret renders differently (and a diff can say so) while
 * nothing about the real value is revealed.
 */
export function standIn(key: string, ciphertext = ""): string {
    const name = key.split(":").pop() ?? key;
    const tag = createHash("sha256").update(ciphertext).digest("hex").slice(0, 8);
    return /Url$/.test(name) ? `https://render-stand-in.invalid/${name}/${tag}` : `render-stand-in-for-${name}-${tag}`;
}

export function readStackFile(path: string): StackFile {
    let text: string;
    try {
        text = readFileSync(path, "utf8");
    } catch (e) {
        throw new StackFileError(`${path}: cannot read the stack file (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
    }
    let doc: unknown;
    try {
        doc = parse(text);
    } catch (e) {
        // the parser's message ends in the lines around the mistake, with a caret under it
        const [first, ...excerpt] = (e as Error).message.trimEnd().split("\n");
        const shown = excerpt.filter((l, i) => l.trim() !== "" || i > 0).map((l) => `    ${l}`).join("\n");
        throw new StackFileError(`${path}: not valid YAML: ${first!.replace(/:$/, "")}${shown ? `\n${shown}` : ""}`);
    }
    const root = (doc ?? {}) as { config?: unknown };
    if (typeof root !== "object" || Array.isArray(root) || (root.config !== undefined && (typeof root.config !== "object" || root.config === null || Array.isArray(root.config)))) {
        throw new StackFileError(`${path}: expected a map with a \`config:\` map of project:key entries`);
    }
    const config: Record<string, string> = {};
    const encrypted: string[] = [];
    for (const [key, value] of Object.entries((root.config ?? {}) as Record<string, unknown>)) {
        if (typeof value === "object" && value !== null && "secure" in value) {
            encrypted.push(key);
            config[key] = standIn(key, String((value as { secure: unknown }).secure));
            continue;
        }
        config[key] = typeof value === "string" ? value : JSON.stringify(value);
    }
    return { config, secretKeys: encrypted, encrypted };
}
