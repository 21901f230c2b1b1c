import { defineConfig } from "vitest/config";

export default defineConfig({
    test: {
        projects: [
            { test: { name: "unit", include: ["test/unit/**/*.test.ts"], testTimeout: 60_000 } },
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
