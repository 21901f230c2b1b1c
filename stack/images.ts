/** Image references: the one rule for what counts as pinned (the schema and the policy pack both use it). */
const IMAGE = /^[a-z0-9]+(?:[._-][a-z0-9]+)*(?::[0-9]+)?(?:\/[a-z0-9]+(?:[._-][a-z0-9]+)*)*(?::([A-Za-z0-9_][A-Za-z0-9_.-]{0,127}))?(?:@sha256:[a-f0-9]{64})?$/;

/** True for `repo:tag`, `repo@sha256:...` or both, where the tag is not `latest`. */
export function isPinnedImage(ref: string): boolean {
    const m = IMAGE.exec(ref);
    if (!m) return false;
    const tag = m[1];
    const digest = ref.includes("@sha256:");
    return (tag !== undefined && tag !== "latest") || digest;
}

/** An image reference's tag (`postgres:17.12-trixie` gives 17.12-trixie; registry ports and digests are not tags), or "". */
export function imageTag(ref: string): string {
    return ref.split("@")[0]!.split("/").pop()!.split(":")[1] ?? "";
}
