/**
 * Two operator-mode stacks on one cluster (docs/STACKS.md): each in its namespace, monitored by
 * the cluster's one kube-prometheus-stack. Every rule and dashboard query selects its own stack's
 * series, recorded series carry the stack, dashboards differ in uid and title, and no object of
 * one stack has the name of the other's where they share a namespace or the cluster.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { join } from "node:path";
import { readStackFile } from "../../render/stackfile";
import type { ProgramRun } from "../../render/program";
import { vectorSelectors } from "../../configs/promql";
import { ofType, ROOT, runStack } from "../helpers";

const STACK = "test/fixtures/good/prod-operator.yaml";
const NAMESPACES = ["flowviz-staging", "flowviz-demo"] as const;
const runs: Record<string, ProgramRun> = {};

beforeAll(async () => {
    const kubernetes = JSON.parse(readStackFile(join(ROOT, STACK)).config["flowviz:kubernetes"] ?? "{}");
    for (const ns of NAMESPACES) runs[ns] = await runStack(STACK, { stack: ns, override: { kubernetes: { ...kubernetes, namespace: ns } } });
});

const rules = (run: ProgramRun) => ofType(run, "kubernetes:monitoring.coreos.com/v1:PrometheusRule").flatMap((r) => (r.inputs as any).spec.groups.flatMap((g: any) => g.rules));
const dashboards = (run: ProgramRun) =>
    ofType(run, "kubernetes:core/v1:ConfigMap")
        .filter((r) => r.name.startsWith("dashboard-"))
        .map((r) => JSON.parse(Object.values((r.inputs as any).data as Record<string, string>)[0]!));
const queries = (d: any): string[] => (d.panels ?? []).flatMap((p: any) => [...(p.targets ?? []).map((t: any) => t.expr).filter(Boolean), ...queries(p)]);
/** A selector that names no namespace, or another one. */
const unscoped = (expr: string, ns: string) => vectorSelectors(expr).filter((s) => !s.includes(`namespace="${ns}"`));

describe("two operator-mode stacks on one cluster", () => {
    it("every alert and recording rule selects its own namespace's series, and every recorded series carries it", () => {
        for (const ns of NAMESPACES) {
            const all = rules(runs[ns]!);
            expect(all.length).toBeGreaterThan(20);
            expect(all.flatMap((r: any) => unscoped(r.expr, ns).map((s) => `${r.alert ?? r.record}: ${s}`))).toEqual([]);
            for (const r of all.filter((x: any) => x.record)) expect(r.labels, r.record).toEqual({ namespace: ns });
        }
    });

    it("every dashboard query selects its own namespace; uids and titles carry the stack and differ between stacks", () => {
        const uids = NAMESPACES.map((ns) => {
            const ds = dashboards(runs[ns]!);
            expect(ds.length).toBe(3);
            for (const d of ds) {
                expect(d.title).toContain(`(${ns})`);
                expect(d.uid.length).toBeLessThanOrEqual(40);
                expect(queries(d).length).toBeGreaterThan(3);
                expect(queries(d).flatMap((q) => unscoped(q, ns))).toEqual([]);
            }
            return ds.map((d) => d.uid);
        });
        expect(uids[0]!.filter((u) => uids[1]!.includes(u))).toEqual([]);
        expect(new Set(uids.flat()).size).toBe(6);
    });

    it("names nothing alike where the stacks share a namespace or the cluster: what lives outside its namespace is auto-named or carries it", () => {
        for (const ns of NAMESPACES) {
            const outside = runs[ns]!.resources.filter((r) => r.type.startsWith("kubernetes:") && !r.type.endsWith(":Namespace") && (r.inputs as any).metadata?.namespace !== ns);
            // the dashboards, in the monitoring namespace the Grafana sidecar reads
            expect(outside.length).toBeGreaterThan(0);
            const clashing = outside.map((r) => (r.inputs as any).metadata?.name as string | undefined).filter((name) => name !== undefined && !name.includes(ns));
            expect(clashing).toEqual([]);
        }
    });
});
