/** A query narrowed to one stack (configs/promql.ts): every series selector, and nothing else, gets the label. */
import { describe, expect, it } from "vitest";
import { scopeSelectors, vectorSelectors } from "../../configs/promql";

const ns = { name: "namespace", value: "flowviz-a" };

describe("scopeSelectors", () => {
    it("adds the label to every selector: bare names, matchers, inside functions, both sides of a binary operation", () => {
        expect(scopeSelectors("up == 0", ns)).toBe('up{namespace="flowviz-a"} == 0');
        expect(scopeSelectors('sum by (le) (rate(x_bucket{job="api"}[5m]))', ns)).toBe('sum by (le) (rate(x_bucket{namespace="flowviz-a",job="api"}[5m]))');
        expect(scopeSelectors("a / on (pod) b{}", ns)).toBe('a{namespace="flowviz-a"} / on (pod) b{namespace="flowviz-a"}');
        expect(scopeSelectors('absent(up{job="x"} == 1)', ns)).toBe('absent(up{namespace="flowviz-a",job="x"} == 1)');
    });

    it("leaves label names in grouping clauses, numbers and functions without selectors alone", () => {
        expect(scopeSelectors("time() - max by (namespace) (x) > 5", ns)).toBe('time() - max by (namespace) (x{namespace="flowviz-a"}) > 5');
    });

    it("keeps a selector's own namespace matcher", () => {
        expect(scopeSelectors('x{namespace="other"} + y', ns)).toBe('x{namespace="other"} + y{namespace="flowviz-a"}');
    });

    it("reads Grafana's interval variables as durations, and keeps them", () => {
        expect(scopeSelectors("rate(x[$__rate_interval])", ns)).toBe('rate(x{namespace="flowviz-a"}[$__rate_interval])');
    });

    it("refuses what is not PromQL rather than guessing", () => {
        expect(() => scopeSelectors("sum(rate(x[5m])", ns)).toThrow(/not a PromQL expression/);
    });

    it("every selector of a scoped query names the label (what the many-stacks test reads)", () => {
        const scoped = scopeSelectors('histogram_quantile(0.99, sum by (le) (rate(a[5m]))) > on() group_left max(b{c="d"})', ns);
        expect(vectorSelectors(scoped).every((s) => s.includes('namespace="flowviz-a"'))).toBe(true);
        expect(vectorSelectors(scoped)).toHaveLength(2);
    });
});
