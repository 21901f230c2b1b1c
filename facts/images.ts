/** What counts as a pinned image: the one rule the schema, the invariants and the policy pack share. */
export const IMAGE = /^[a-z0-9]+(?:[._-][a-z0-9]+)*(?::[0-9]+)?(?:\/[a-z0-9]+(?:[._-][a-z0-9]+)*)*(?::([A-Za-z0-9_][A-Za-z0-9_.-]{0,127}))?(?:@sha256:[a-f0-9]{64})?$/;

/**
 * A tag that names a release: a version with at least major.minor (`17.12-trixie`,
 * `v2.53.5`, `8.1.4-alpine`). `latest`, branch and channel tags (`main`, `edge`,
 * `nightly`, `stable`) and a bare major (`17`) move under the same name.
 */
export const VERSION_TAG = /^v?\d+\.\d+/;

/** True for `repo:<version tag>`, `repo@sha256:...` or both. */
export function isPinnedImage(ref: string): boolean {
    const m = IMAGE.exec(ref);
    if (!m) return false;
    const tag = m[1];
    const digest = ref.includes("@sha256:");
    return (tag !== undefined && VERSION_TAG.test(tag)) || digest;
}

