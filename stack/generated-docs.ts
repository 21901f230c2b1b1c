import { configDocs } from "./docs";
import { monitoringDocs } from "../configs/monitoring-docs";
import { loadStackConfig } from "./load";
import { stackFileSchema } from "./editor-schema";
import { versionsDoc } from "./versions";
import { alertThresholds } from "./backups";

/** Every document generated from code, by repository path (monitoring docs show the default thresholds). */
export function generatedDocs(): Record<string, string> {
    const defaults = loadStackConfig("flowviz", "docs", { "flowviz:platform": "docker" }, () => false).config;
    return {
        "docs/CONFIG.md": configDocs(),
        "schema/stack.schema.json": JSON.stringify(stackFileSchema(), null, 2) + "\n",
        "docs/VERSIONS.md": versionsDoc(defaults),
        ...monitoringDocs(alertThresholds(defaults), alertThresholds({ ...defaults, platform: "kubernetes", postgres: { ...defaults.postgres, engine: "cloudnative-pg" } })),
    };
}
