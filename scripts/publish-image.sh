#!/usr/bin/env bash
# The deploy's image step: scripts/publish-image.sh <registry> <owner> <image> <base image>
# prints <image> pinned by digest (name@sha256:...), what `pulumi up` deploys. It logs in only to
# <registry> (the workflow names it), refuses an image outside <registry>/<owner>/, builds and
# pushes images/postgres-pgbackrest only when the tag does not exist, and refuses a tag whose
# digest is not the one the stack pins (a moved tag) or an existing tag the stack does not pin.
# REGISTRY_TOKEN and GITHUB_ACTOR come from the environment.
set -euo pipefail
registry=$1 owner=$2 image=$3 base=$4
fail() { echo "publish-image: $*" >&2; exit 1; }
case "$image" in
    "$registry/$owner/"*) ;;
    *) fail "postgres.backups.image $image is not under $registry/$owner/, the one registry this workflow logs in to" ;;
esac
ref=${image%@*}
pinned=
if [ "$ref" != "$image" ]; then pinned=${image#*@}; fi
docker login "$registry" -u "$GITHUB_ACTOR" --password-stdin <<< "$REGISTRY_TOKEN" > /dev/null
existing=$(docker buildx imagetools inspect "$ref" --format '{{.Manifest.Digest}}' 2> /dev/null || true)
if [ -n "$existing" ]; then
    [ -n "$pinned" ] || fail "$ref already exists ($existing) and the stack pins no digest: pin it (postgres.backups.image $ref@$existing) so that a moved tag fails the deploy"
    [ "$existing" = "$pinned" ] || fail "$ref is $existing in the registry, but the stack pins $pinned: the tag was moved; nothing deployed"
    digest=$existing
else
    [ -z "$pinned" ] || fail "$ref is pinned to $pinned, which the registry does not have: a rebuild gives another digest; push that image or pin the new one"
    docker build images/postgres-pgbackrest --build-arg POSTGRES_IMAGE="$base" -t "$ref" >&2
    docker push "$ref" >&2
    digest=$(docker buildx imagetools inspect "$ref" --format '{{.Manifest.Digest}}')
    echo "publish-image: built and pushed $ref@$digest; pin it in the stack (postgres.backups.image)" >&2
fi
echo "$ref@$digest"
