import { availableParallelism } from "node:os";
import { defineConfig } from "vitest/config";

export default defineConfig({
    test: {
        // vitest leaves one core free by default: on 2 cores that is one file at a time
        maxWorkers: Math.max(2, availableParallelism()),
        projects: [
            // what a developer runs on every save: in-process, no servers, no CLI processes
            { test: { name: "unit", include: ["test/unit/**/*.test.ts"], testTimeout: 60_000, isolate: false } },
            // whole stacks rendered under mocks and judged as a cluster, the API server or a reviewer would: every
            // good stack file, the Kubernetes schema, the policy pack against our renders and weakened ones, the
            // NetworkPolicies connection by connection, what the diff says of a change
            // (and the program's own renders: dev, prod, operator mode, the CloudNativePG engine); a render hook may wait
            // for its turn on a loaded machine
            { test: { name: "stacks", include: ["test/stacks/**/*.test.ts"], testTimeout: 60_000, hookTimeout: 120_000, isolate: false } },
            // the commands as users run them (npm run render / check / diff), each a process
            { test: { name: "cli", include: ["test/cli/**/*.test.ts"], testTimeout: 120_000 } },
            {
                test: {
                    name: "integration",
                    include: ["test/integration/**/*.test.ts"],
                    globalSetup: ["test/integration/setup.ts"],
                    testTimeout: 900_000,
                    hookTimeout: 300_000,
                    fileParallelism: false,
                },
            },
        ],
    },
});
