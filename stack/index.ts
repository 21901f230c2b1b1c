import * as pulumi from "@pulumi/pulumi";
import { ConfigError, loadStackConfig, type LoadedConfig } from "./load";

/** isConfigSecret is exported by the SDK's runtime but missing from its typings. */
const runtimeConfig = pulumi.runtime as unknown as { isConfigSecret?: (key: string) => boolean };

/**
 * The current stack's validated configuration. A user mistake becomes a RunError:
 * Pulumi prints its message, every problem at once, without a stack trace, before
 * any resource is registered.
 */
export function currentStackConfig(): LoadedConfig {
    try {
        return loadStackConfig(pulumi.getProject(), pulumi.getStack(), pulumi.runtime.allConfig(), (k) => runtimeConfig.isConfigSecret?.(k) ?? false);
    } catch (e) {
        if (e instanceof ConfigError) throw new pulumi.RunError(e.message);
        throw e;
    }
}

export { type StackConfig } from "./schema";
export { pgbouncerPeered, poolSizing, replicasOn } from "./capacity";
