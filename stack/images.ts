/** Image references: their tags and versions (what counts as pinned: facts/images.ts). */

/** An image reference's tag (`postgres:17.12-trixie` gives 17.12-trixie; registry ports and digests are not tags), or "". */
export function imageTag(ref: string): string {
    return ref.split("@")[0]!.split("/").pop()!.split(":")[1] ?? "";
}
