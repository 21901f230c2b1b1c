/**
 * Every Kubernetes object of every Kubernetes stack, validated against the Kubernetes
 * OpenAPI schema (kubernetes-models), as the API server would before admission.
 */
import { describe, expect, it } from "vitest";
import * as models from "kubernetes-models";
import { maskSecrets } from "../../render/files";
import { runStack } from "../helpers";

interface ModelClass {
    apiVersion: string;
    kind: string;
    new (data: unknown): { validate(): void };
}

/** Every model class the package exports, by `apiVersion/kind`. */
function modelClasses(): Map<string, ModelClass> {
    const found = new Map<string, ModelClass>();
    const walk = (ns: Record<string, unknown>, depth: number) => {
        for (const v of Object.values(ns)) {
            if (typeof v === "function" && "apiVersion" in v && "kind" in v) found.set(`${String(v.apiVersion)}/${String(v.kind)}`, v as unknown as ModelClass);
            else if (typeof v === "object" && v !== null && depth < 3) walk(v as Record<string, unknown>, depth + 1);
        }
    };
    walk(models as unknown as Record<string, unknown>, 0);
    return found;
}
const MODELS = modelClasses();

/** The object as it would reach the API server (secrets as their values) and as plan.json shows it (masked); unset fields dropped. */
const asSent = (inputs: unknown) => JSON.parse(JSON.stringify(maskSecrets(inputs, true)));
const asPlanned = (inputs: unknown) => JSON.parse(JSON.stringify(maskSecrets(inputs, false)));

const STACKS = ["test/fixtures/good/prod-statefulset.yaml", "test/fixtures/good/prod-with-receivers.yaml", "test/fixtures/good/prod-alerts-nowhere.yaml", "test/fixtures/good/prod-operator.yaml", "Pulumi.prod.yaml", "test/fixtures/good/prod-restored.yaml", "test/fixtures/good/prod-offsite.yaml", "test/fixtures/good/prod-operators-installed.yaml"];

describe("Kubernetes objects against the OpenAPI schema", () => {
    it("finds the models it needs", () => {
        for (const k of ["apps/v1/Deployment", "apps/v1/StatefulSet", "batch/v1/Job", "v1/ConfigMap", "networking.k8s.io/v1/NetworkPolicy"]) expect(MODELS.has(k), k).toBe(true);
    });

    it("rejects an object the API server would (the check can fail)", () => {
        const Deployment = MODELS.get("apps/v1/Deployment")!;
        expect(() => new Deployment({ metadata: { name: "x" }, spec: { replicas: "two", template: {} } }).validate()).toThrow();
    });

    it.each(STACKS)("%s: every object validates", async (file) => {
        const run = await runStack(file, { stack: "prod" });
        // custom resources are validated against their CRDs: the prometheus-operator's in operator.test.ts, CloudNativePG's in cloudnative-pg.test.ts
        const objects = run.resources.filter((r) => r.type.startsWith("kubernetes:") && !/^kubernetes:(yaml:|(monitoring\.coreos\.com|postgresql\.cnpg\.io|barmancloud\.cnpg\.io)\/)/.test(r.type));
        expect(objects.length).toBeGreaterThan(40);
        const problems: string[] = [];
        for (const r of objects) {
            const body = asSent(r.inputs);
            const model = MODELS.get(`${body.apiVersion}/${body.kind}`);
            if (!model) {
                problems.push(`${r.type} ${r.name}: no schema for ${body.apiVersion}/${body.kind}`);
                continue;
            }
            for (const [form, object] of [["sent", body], ["plan.json", asPlanned(r.inputs)]] as const) {
                try {
                    new model(object).validate();
                } catch (e) {
                    problems.push(`${r.type} ${r.name} (${form}): ${(e as Error).message}`);
                }
            }
        }
        expect(problems).toEqual([]);
    });
});
