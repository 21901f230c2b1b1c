/**
 * The policy pack run without the Pulumi engine: the same policy objects over a render's
 * recorded resources, so `npm run render` and `npm run diff` report what
 * `pulumi preview --policy-pack policy` would.
 */
import type { PolicyResource, ResourceValidationArgs, StackValidationArgs } from "@pulumi/policy";
import type { RecordedResource } from "./program";
import { maskSecrets } from "./files";
import { POLICIES, type Policy } from "../policy/policies";
import type { PolicyViolation } from "./violations";


const urnOf = (r: RecordedResource) => `urn:pulumi:render::flowviz::${r.type}::${r.name}`;

/** A recorded resource as the policy pack sees it (secrets unwrapped, as the engine hands them over). */
export function policyResource(r: RecordedResource): PolicyResource {
    return {
        type: r.type,
        name: r.name,
        urn: urnOf(r),
        props: maskSecrets(r.inputs, true) as Record<string, any>,
        opts: { protect: r.protect, ignoreChanges: [], deleteBeforeReplace: r.deleteBeforeReplace, aliases: [], customTimeouts: { createSeconds: 0, updateSeconds: 0, deleteSeconds: 0 }, additionalSecretOutputs: [] },
        dependencies: [],
        propertyDependencies: {},
        isType: () => false,
        asType: () => undefined,
    } as unknown as PolicyResource;
}

/** Every violation of every policy (or of the ones given) on a recorded plan, in a stable order. */
export async function checkPolicies(resources: RecordedResource[], policies: Policy[] = POLICIES): Promise<PolicyViolation[]> {
    const all = resources.map(policyResource);
    const byUrn = new Map(all.map((r) => [r.urn, `${r.type}::${r.name}`]));
    const out: PolicyViolation[] = [];
    for (const policy of policies) {
        const enforcement = policy.enforcementLevel === "mandatory" ? "mandatory" : "advisory";
        if (policy.enforcementLevel === "disabled") continue;
        if ("validateResource" in policy && policy.validateResource) {
            const validations = [policy.validateResource].flat();
            for (const r of all) {
                const args = { ...r, stackTags: new Map(), getConfig: () => ({}) } as unknown as ResourceValidationArgs;
                for (const validate of validations) await validate(args, (message) => out.push({ policy: policy.name, enforcement, resource: `${r.type}::${r.name}`, message }));
            }
        }
        if ("validateStack" in policy && policy.validateStack) {
            const args = { resources: all, stackTags: new Map(), getConfig: () => ({}) } as unknown as StackValidationArgs;
            await policy.validateStack(args, (message, urn) => out.push({ policy: policy.name, enforcement, resource: (urn && byUrn.get(urn)) ?? "stack", message }));
        }
    }
    return out;
}
