import { type Descriptor, encodeJson, type ImageIndex, type ImageManifest, MediaType } from './media';
import type { OciStore } from './store';

/** The tag under which the distribution spec's fallback keeps the referrers of a manifest: `sha256-<hex>`. */
export function referrersTag(digest: string): string {
  return digest.replace(':', '-');
}

/** Referrers of a manifest: the referrers API when the store has one, else the `sha256-<hex>` tag schema (OCI 1.1). */
export async function listReferrers(
  store: OciStore,
  repository: string,
  digest: string,
  artifactType?: string,
): Promise<Descriptor[]> {
  const api = await store.referrersApi(repository, digest);
  const all =
    api ??
    ((await store.getManifest(repository, referrersTag(digest)))?.manifest as ImageIndex | undefined)
      ?.manifests ??
    [];
  return artifactType ? all.filter((d) => d.artifactType === artifactType) : all;
}

/**
 * Pushes a manifest that has a `subject` and records it as a referrer. Without a referrers API the
 * fallback index is read, extended and written back; a registry with the API indexes it itself.
 */
export async function pushReferrer(
  store: OciStore,
  repository: string,
  manifest: ImageManifest,
): Promise<Descriptor> {
  if (!manifest.subject) throw new Error('a referrer needs a subject');
  const bytes = encodeJson(manifest);
  const mediaType = manifest.mediaType ?? MediaType.ociManifest;
  const pushed = await store.putManifest(repository, bytes, mediaType);
  if (await store.referrersApi(repository, manifest.subject.digest)) return pushed;
  const tag = referrersTag(manifest.subject.digest);
  const existing = (await store.getManifest(repository, tag))?.manifest as ImageIndex | undefined;
  const entry: Descriptor = {
    ...pushed,
    artifactType: manifest.artifactType ?? manifest.config.mediaType,
    ...(manifest.annotations ? { annotations: manifest.annotations } : {}),
  };
  const index: ImageIndex = {
    schemaVersion: 2,
    mediaType: MediaType.ociIndex,
    manifests: [...(existing?.manifests ?? []).filter((d) => d.digest !== pushed.digest), entry],
  };
  await store.putManifest(repository, encodeJson(index), MediaType.ociIndex, tag);
  return pushed;
}
