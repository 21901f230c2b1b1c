/** PromQL facts from the official grammar (@prometheus-io/lezer-promql): metric names, labels, ranges, syntax errors. */
import { parser } from "@prometheus-io/lezer-promql";

export interface QueryFacts {
    metrics: string[];
    labels: string[];
    ranges: string[];
    errors: string[];
}

/** Grafana's interval variables, as Grafana substitutes them before the query reaches Prometheus. */
export const grafanaVariables = (expr: string) => expr.replace(/\$__rate_interval|\$__interval/g, "1m");

export function parsePromQL(expr: string): QueryFacts {
    const facts: QueryFacts = { metrics: [], labels: [], ranges: [], errors: [] };
    parser.parse(expr).iterate({
        enter: (n) => {
            const text = expr.slice(n.from, n.to);
            if (n.type.isError) facts.errors.push(`syntax error at ${n.from}: "${expr.slice(n.from, n.from + 20)}"`);
            else if (n.name === "Identifier" && n.node.parent?.name === "VectorSelector") facts.metrics.push(text);
            else if (n.name === "LabelName") facts.labels.push(text);
            else if (n.name === "MatrixSelector") facts.ranges.push(text.slice(text.lastIndexOf("[") + 1, -1));
        },
    });
    return facts;
}
