// Image references in the form Swarm stores them. With a digest the docker provider's
// create keeps the reference as it is, in the registry client's familiar form
// (docker/client ServiceCreate → imageWithDigestString → reference.FamiliarString:
// "docker.io/" and "library/" dropped); without one it pins the tag to the digest the
// registry reports at create (QueryRegistry) but not at update, so the stored image and
// the declared one differ after the first run and the next one restarts every task.

/** Does the first path component name a registry (as reference.ParseNormalizedNamed decides)? */
function hasRegistry(ref: string): boolean {
  const first = ref.split("/")[0];
  return ref.includes("/") && (first.includes(".") || first.includes(":") || first === "localhost");
}

/** The familiar form of a reference (reference.FamiliarString): what Swarm stores and reads back. */
export function familiarImage(ref: string): string {
  let out = ref.replace(/^(?:index\.)?docker\.io\//, "");
  if (!hasRegistry(out) && /^library\/[^/]+$/.test(out.replace(/[:@].*$/, ""))) out = out.slice("library/".length);
  return out;
}

export const DIGEST = /@sha256:[a-f0-9]{64}$/;

/**
 * A locally built image's ID (what @pulumi/docker 5.2.0's Image gives as repoDigest for an
 * image it did not push): content-addressed like a digest, and known to no registry.
 */
export const IMAGE_ID = /^sha256:[a-f0-9]{64}$/;
export const isImageId = (ref: string): boolean => IMAGE_ID.test(ref);

/**
 * The names the app images carry in config and plan when the stack builds them
 * (images.build): the stack replaces them with the built image's ID.
 */
export const LOCAL_BUILD_IMAGES = { backend: "medianest-local/backend:build", frontend: "medianest-local/frontend:build" } as const;
export const isLocalBuild = (ref: string): boolean => (Object.values(LOCAL_BUILD_IMAGES) as string[]).includes(ref);

export function hasDigest(ref: string): boolean {
  return DIGEST.test(ref);
}

/** The form of an image reference: name, optional tag, optional digest. */
export const IMAGE_REFERENCE = /^[a-z0-9]+([._/:-][a-z0-9]+)*(:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(@sha256:[a-f0-9]{64})?$/;

/**
 * Why a reference is not pinned, or undefined when it is: pinned means a tag other than
 * the moving "latest", or a digest. The one rule, for config validation and the policies.
 */
export function unpinnedReason(ref: string): "no-tag" | "latest" | undefined {
  if (isImageId(ref)) return undefined;
  if (/:latest(@|$)/.test(ref)) return "latest";
  if (hasDigest(ref)) return undefined;
  // A registry port ("host:5000/x") is not a tag.
  return /:[A-Za-z0-9_][A-Za-z0-9_.-]*$/.test(ref.replace(/^[^/]*:\d+\//, "")) ? undefined : "no-tag";
}

/**
 * The sample stacks' app images: no MediaNest image is published, so the samples name a
 * registry that cannot exist (RFC 2606 .invalid) until the user builds and pushes theirs.
 */
export const PLACEHOLDER_IMAGE_REGISTRY = "medianest.invalid/";
export const isPlaceholderImage = (ref: string): boolean => ref.startsWith(PLACEHOLDER_IMAGE_REGISTRY);
