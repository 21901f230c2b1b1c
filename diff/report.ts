/**
 * The review of a change, as text for a terminal, Markdown for a pull-request comment
 * (summary first, blocked items and policy violations on top, one <details> block per
 * changed resource, at most 60,000 characters) or JSON for scripts.
 */
import { mandatoryOf, violationLine, type PolicyViolation } from "../render/violations";
import type { Action, FileChange, PropertyChange, ResourceChange } from "./compare";
import type { CapacityRow, Finding } from "./consequences";

export interface StackDiff {
    stack: string;
    changes: ResourceChange[];
    unchanged: number;
    files: FileChange[];
    outputs: PropertyChange[];
    findings: Finding[];
    capacity: CapacityRow[];
    /** the head's policy violations */
    policy: PolicyViolation[];
}

export interface Review {
    base: string;
    head: string;
    stacks: StackDiff[];
}

/** GitHub refuses comments over 65,536 characters; stay clear of it. */
export const MARKDOWN_LIMIT = 60_000;
/** Hidden marker by which the pull-request workflow finds (and updates) its one comment. */
export const COMMENT_MARKER = "<!-- flowviz-infra-diff -->";
/** First key of the JSON report, by which an earlier report is recognised. */
export const REPORT_ID = "flowviz-infra-diff";

const ACTIONS: Action[] = ["create", "update", "replace", "delete"];

export const isBlocked = (s: StackDiff) => s.findings.some((f) => f.kind === "blocked") || mandatoryOf(s.policy).length > 0;
export const hasChanges = (s: StackDiff) => s.changes.length > 0 || s.files.length > 0 || s.outputs.length > 0;

/** Exit status: 0 no changes, 2 changes, 3 blocked. */
export function exitCode(review: Review): number {
    if (review.stacks.some(isBlocked)) return 3;
    return review.stacks.some(hasChanges) ? 2 : 0;
}

function show(v: unknown): string {
    if (v === undefined) return "(none)";
    if (typeof v === "string") {
        const lines = v.split("\n").length;
        return lines > 1 || v.length > 100 ? `<text, ${lines} line(s); see the file diff>` : JSON.stringify(v);
    }
    const text = JSON.stringify(v);
    return text.length > 120 ? `${text.slice(0, 117)}...` : text;
}

function describeChange(p: PropertyChange): string {
    if (p.secret) return p.before === undefined ? "set (secret)" : p.after === undefined ? "removed (secret)" : "changed (secret)";
    return `${show(p.before)} -> ${show(p.after)}`;
}

const counts = (s: StackDiff) => Object.fromEntries(ACTIONS.map((a) => [a, s.changes.filter((c) => c.action === a).length])) as Record<Action, number>;
const capacityChanged = (rows: CapacityRow[]) => rows.some((r) => r.before !== r.after);
// ---------------------------------------------------------------- text

export function textReport(review: Review): string {
    const out = [`Infrastructure diff ${review.base} -> ${review.head}`, ""];
    for (const s of review.stacks) {
        const n = counts(s);
        out.push(`== ${s.stack}: ${ACTIONS.map((a) => `${n[a]} to ${a}`).join(", ")}, ${s.unchanged} unchanged; ${s.files.length} file(s) changed`);
        for (const f of s.findings.filter((x) => x.kind === "blocked")) out.push(`  BLOCKED ${f.resource}: ${f.message}`);
        for (const v of s.policy) out.push(`  ${v.enforcement === "mandatory" ? "POLICY" : "advisory"} ${violationLine(v)}`);
        for (const f of s.findings.filter((x) => x.kind !== "blocked")) out.push(`  ${f.kind === "restart" ? "RESTART" : "note"} ${f.message}`);
        if (capacityChanged(s.capacity)) {
            out.push("  capacity:");
            for (const r of s.capacity) out.push(`    ${r.what}: ${r.before ?? "-"} -> ${r.after ?? "-"}${r.before === r.after ? "" : "  (changed)"}`);
        }
        for (const c of s.changes) {
            out.push(`  ${c.action.padEnd(7)} ${c.type} ${c.name}${c.protect ? " (protected)" : ""}`);
            for (const p of c.changes) out.push(`      ${p.path}: ${describeChange(p)}${p.replaces ? `  [replaces: ${p.replaces}]` : ""}`);
        }
        for (const f of s.files) {
            out.push(`  file ${f.action} ${f.file}${f.secret ? (f.patch ? ": changed (secret; credentials masked below)" : ": changed (secret: only credentials)") : ""}`);
            if (f.patch) out.push(...f.patch.trimEnd().split("\n").map((l) => `      ${l}`));
        }
        for (const o of s.outputs) out.push(`  output ${o.path}: ${describeChange(o)}`);
        out.push("");
    }
    return out.join("\n");
}

// ---------------------------------------------------------------- markdown

const code = (s: string) => `\`${s.replace(/`/g, "'")}\``;
const cell = (s: string) => s.replace(/\|/g, "\\|").replace(/\n/g, " ");

interface Detail {
    /** lower is more important; the least important are dropped first */
    rank: number;
    text: string;
}

function resourceDetail(stack: string, c: ResourceChange, findings: Finding[]): Detail {
    const about = findings.filter((f) => f.resource === `${c.type}::${c.name}`);
    const rows = c.changes.map((p) => `| ${code(p.path)} | ${cell(describeChange(p))} | ${p.replaces ? cell(`replaces: ${p.replaces}`) : ""} |`);
    const body = [
        ...about.map((f) => `> **${f.kind}**: ${f.message}`),
        ...(rows.length > 0 ? ["| property | before -> after | |", "|---|---|---|", ...rows] : [c.action === "create" ? "new resource" : "removed resource"]),
    ];
    const rank = about.some((f) => f.kind === "blocked") ? 0 : c.action === "replace" || c.action === "delete" ? 1 : about.length > 0 ? 2 : 3;
    return {
        rank,
        text: `<details><summary>${stack}: <b>${c.action}</b> ${code(c.type)} ${c.name}${c.protect ? " (protected)" : ""}</summary>\n\n${body.join("\n")}\n\n</details>\n`,
    };
}

function fileDetail(stack: string, f: FileChange): Detail {
    const patch = f.patch.length > 8000 ? `${f.patch.slice(0, 8000)}\n... (file diff cut at 8,000 characters)` : f.patch;
    const body = f.secret && !patch ? "changed (secret: only credentials)" : `${f.secret ? "changed (secret; credentials masked)\n\n" : ""}\`\`\`diff\n${patch.trimEnd()}\n\`\`\``;
    return { rank: 4, text: `<details><summary>${stack}: file ${code(f.file)} (${f.action})</summary>\n\n${body}\n\n</details>\n` };
}

export function markdownReport(review: Review, limit = MARKDOWN_LIMIT): string {
    const head = [COMMENT_MARKER, `### Infrastructure diff ${code(review.base)} -> ${code(review.head)}`, ""];
    head.push("| stack | create | update | replace | delete | unchanged | files | restarts | blocked | policy |", "|---|---|---|---|---|---|---|---|---|---|");
    for (const s of review.stacks) {
        const n = counts(s);
        const blocked = s.findings.filter((f) => f.kind === "blocked").length;
        const mandatory = mandatoryOf(s.policy).length;
        head.push(`| ${s.stack} | ${n.create} | ${n.update} | ${n.replace} | ${n.delete} | ${s.unchanged} | ${s.files.length} | ${s.findings.filter((f) => f.kind === "restart").length} | ${blocked ? `**${blocked}**` : 0} | ${mandatory ? `**${mandatory}**` : 0} |`);
    }
    head.push("");
    const blockedLines = review.stacks.flatMap((s) => s.findings.filter((f) => f.kind === "blocked").map((f) => `- **${s.stack}** ${code(f.resource)}: ${f.message}`));
    if (blockedLines.length) head.push("#### Blocked", "", ...blockedLines, "");
    const policyLines = review.stacks.flatMap((s) => s.policy.map((v) => `- **${s.stack}** ${v.enforcement}: ${cell(violationLine(v))}`));
    if (policyLines.length) head.push("#### Policy", "", ...policyLines, "");
    const restartLines = review.stacks.flatMap((s) => s.findings.filter((f) => f.kind !== "blocked").map((f) => `- **${s.stack}** ${f.message}`));
    if (restartLines.length) head.push("#### Restarts", "", ...restartLines, "");
    for (const s of review.stacks.filter((x) => capacityChanged(x.capacity))) {
        head.push(`#### Capacity (${s.stack})`, "", "| | before | after |", "|---|---|---|", ...s.capacity.map((r) => `| ${r.what} | ${r.before ?? "-"} | ${r.after ?? "-"}${r.before === r.after ? "" : " **(changed)**"} |`), "");
    }
    if (!review.stacks.some(hasChanges)) head.push("No changes.", "");

    const details: Detail[] = review.stacks.flatMap((s) => [
        ...s.changes.map((c) => resourceDetail(s.stack, c, s.findings)),
        ...s.files.map((f) => fileDetail(s.stack, f)),
        ...(s.outputs.length ? [{ rank: 5, text: `<details><summary>${s.stack}: outputs</summary>\n\n${s.outputs.map((o) => `- ${code(o.path)}: ${cell(describeChange(o))}`).join("\n")}\n\n</details>\n` }] : []),
    ]);
    const summary = head.join("\n");
    const kept = [...details];
    const dropped: Detail[] = [];
    const size = () => summary.length + kept.reduce((n, d) => n + d.text.length + 1, 0) + 400;
    while (size() > limit && kept.length > 0) {
        let worst = kept.length - 1;
        kept.forEach((d, i) => {
            if (d.rank >= kept[worst]!.rank) worst = i;
        });
        dropped.push(...kept.splice(worst, 1));
    }
    const tail = dropped.length
        ? [`_${dropped.length} detail block(s) left out to stay under GitHub's 65,536-character comment limit (least important first: file diffs, then unaffected updates); \`npm run diff\` locally shows everything._`]
        : [];
    return [summary, ...kept.map((d) => d.text), ...tail].join("\n").slice(0, limit) + "\n";
}

export function jsonReport(review: Review): string {
    const strip = (c: ResourceChange) => ({ key: c.key, type: c.type, name: c.name, parent: c.parent, action: c.action, protect: c.protect, changes: c.changes });
    return JSON.stringify({ report: REPORT_ID, ...review, exitCode: exitCode(review), stacks: review.stacks.map((s) => ({ ...s, changes: s.changes.map(strip) })) }, null, 2) + "\n";
}
