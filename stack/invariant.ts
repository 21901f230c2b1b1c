/** The shape of a cross-field invariant and of what it reports (the rules live in invariants.ts and its neighbours). */
import type { StackConfig } from "./schema";

export interface CheckContext {
    project: string;
    stack: string;
}

/** One violation: the key to change (a path under the project) and what is wrong with it. */
export interface Violation {
    key: string;
    message: string;
}

export interface Invariant {
    title: string;
    /** the rule and its arithmetic, as docs/CONFIG.md shows it */
    rule: string;
    /** the key that overrides it, where the rule is an opinion */
    override?: string;
    check(config: StackConfig, ctx: CheckContext): Violation[];
}
