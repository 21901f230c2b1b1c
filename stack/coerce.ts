/**
 * Values as the Pulumi CLI writes them. `pulumi config set --path` stores "true"/"false"
 * as booleans, integers as numbers and everything else (decimals included) as strings;
 * top-level keys are always strings. Where the schema's meaning is unambiguous the value
 * is read as what the schema wants: a numeric string as a number, a number as the text
 * of a quantity, "true"/"false" as booleans. Anything else is left for the schema to refuse.
 */

export interface SchemaNode {
    type?: string;
    properties?: Record<string, SchemaNode>;
}

/** Text that reads as a number (what `pulumi config set --path` stores a decimal as). */
export const NUMERIC_TEXT = "^[+-]?([0-9]+(\\.[0-9]*)?|\\.[0-9]+)([eE][+-]?[0-9]+)?$";
const NUMERIC = new RegExp(NUMERIC_TEXT);

/** A value that was read as another type, with what the stack file held. */
export interface Coercion {
    /** JSON pointer, as ajv reports instance paths */
    path: string;
    original: unknown;
}

/** Returns the coerced copy of `value`; each coercion is appended to `coerced`. */
export function coerceToSchema(schema: SchemaNode, value: unknown, coerced: Coercion[], path = ""): unknown {
    if (schema.type === "object" && typeof value === "object" && value !== null && !Array.isArray(value)) {
        return Object.fromEntries(
            Object.entries(value).map(([k, v]) => {
                const child = schema.properties?.[k];
                return [k, child ? coerceToSchema(child, v, coerced, `${path}/${k}`) : v];
            }),
        );
    }
    let result = value;
    if ((schema.type === "number" || schema.type === "integer") && typeof value === "string" && NUMERIC.test(value.trim())) result = Number(value);
    else if (schema.type === "string" && typeof value === "number" && Number.isFinite(value)) result = String(value);
    else if (schema.type === "boolean" && (value === "true" || value === "false")) result = value === "true";
    if (result !== value) coerced.push({ path, original: value });
    return result;
}
