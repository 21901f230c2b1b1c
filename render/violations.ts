/** What the policy pack says of a render (render/policy-check.ts), and how the commands print it. */
export interface PolicyViolation {
    policy: string;
    enforcement: "mandatory" | "advisory";
    /** `type::name` of the resource, or "stack" */
    resource: string;
    message: string;
}

/** The violations that refuse a stack: `pulumi preview --policy-pack policy` fails on them. */
export const mandatoryOf = (violations: PolicyViolation[]) => violations.filter((v) => v.enforcement === "mandatory");

/** A violation as the commands print it. */
export const violationLine = (v: PolicyViolation) => `[${v.policy}] ${v.resource}: ${v.message}`;
