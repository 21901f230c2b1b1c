/**
 * PromQL read with Prometheus' own grammar (@prometheus-io/lezer-promql): a query narrowed to
 * one stack by a label matcher on every series selector, as operator mode needs when several
 * stacks share the cluster's Prometheus.
 */
import type { Tree } from "@lezer/common" with { "resolution-mode": "require" };

// the grammar's CommonJS build (its package's `require` export): the program is CommonJS
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { parser } = require("@prometheus-io/lezer-promql") as { parser: { parse(text: string): Tree } };

/** `expr` with `name="value"` on every vector selector (metric{...} and {...}); a selector that already names the label keeps its own. Grafana's interval variables are read as durations. */
export function scopeSelectors(expr: string, label: { name: string; value: string }): string {
    const tree = parser.parse(withGrafanaIntervals(expr));
    const matcher = `${label.name}=${JSON.stringify(label.value)}`;
    const inserts: { at: number; text: string }[] = [];
    let invalid = false;
    tree.iterate({
        enter: (n) => {
            if (n.type.isError) invalid = true;
            if (n.name !== "VectorSelector") return;
            const matchers = n.node.getChild("LabelMatchers");
            if (!matchers) {
                inserts.push({ at: n.to, text: `{${matcher}}` });
                return false;
            }
            const inside = expr.slice(matchers.from + 1, matchers.to - 1);
            if (new RegExp(`(^|[{,\\s])${label.name}\\s*(=|!=|=~|!~)`).test(inside)) return false;
            inserts.push({ at: matchers.from + 1, text: inside.trim() ? `${matcher},` : matcher });
            return false;
        },
    });
    if (invalid) throw new Error(`not a PromQL expression: ${expr}`);
    return inserts.sort((a, b) => b.at - a.at).reduce((out, i) => out.slice(0, i.at) + i.text + out.slice(i.at), expr);
}

/** Grafana's interval variables ($__rate_interval, $__interval) as durations of the same length: positions in the text stay where they are. */
const withGrafanaIntervals = (expr: string) => expr.replace(/\$__\w+/g, (v) => `${"1".repeat(v.length - 1)}s`);

/** Every vector selector of `expr`, as written (what a test reads to see a query is scoped). */
export function vectorSelectors(expr: string): string[] {
    const out: string[] = [];
    parser.parse(withGrafanaIntervals(expr)).iterate({
        enter: (n) => {
            if (n.name !== "VectorSelector") return;
            out.push(expr.slice(n.from, n.to));
            return false;
        },
    });
    return out;
}
