import type { Readable } from 'node:stream';
import { ActionError, type ByteSource } from '@mlops-actions/kit';
import type { Descriptor, Manifest } from './media';

/** Bytes of a blob to push: in memory, or a file/stream that can be opened again for a retry. */
export type BlobSource = Uint8Array | (() => Readable);

export interface FetchedManifest {
  descriptor: Descriptor;
  bytes: Buffer;
  manifest: Manifest;
}

/** How a blob reached the target: it was there, the registry linked it from another repository, or its bytes were sent. */
export type PushOutcome = 'exists' | 'mounted' | 'uploaded';

export interface StreamedBlob {
  digest: string;
  size: number;
  /** `exists` when the store already had these bytes (and none were sent). */
  outcome: PushOutcome;
}

export interface PushBlobOptions {
  /** A repository on the same registry that has the blob: mount it from there instead of uploading. */
  mountFrom?: string;
  /** Sends a blob larger than this in PATCHes of this many bytes instead of one monolithic PUT. */
  chunkSize?: number;
  /** Bytes sent so far (counted again from 0 by a retried upload). */
  onProgress?: (bytes: number) => void;
  signal?: AbortSignal;
}

export interface PushStreamOptions extends Omit<PushBlobOptions, 'mountFrom'> {
  /**
   * Read the stream once to hash it before sending anything (default true): a blob the registry has is
   * not sent, and the rest goes up in one request. false for a stream that costs much to produce twice
   * (compressed on the fly): it is hashed while it is sent in chunks.
   */
  digestFirst?: boolean;
  /**
   * The exact number of bytes the stream gives (a plain tar's `tarSize`). With it, a digest-first push
   * does not wait for its digest: the bytes go up in one PATCH while a second read hashes them.
   */
  size?: number;
}

/** A blob's source gave other bytes than before (a file changed between two reads). */
export class SourceChangedError extends ActionError {
  override name = 'SourceChangedError';
}

/**
 * The same operations on a registry (distribution spec) and on an OCI image-layout directory: a layout
 * is a registry without a server. References are a tag or a digest.
 */
export interface OciStore {
  /** Names the store in messages: the registry host or the layout path. */
  readonly name: string;
  /** The manifest's descriptor, or undefined when the reference does not exist. */
  resolve(repository: string, reference: string): Promise<Descriptor | undefined>;
  /** The manifest, verified against its digest; undefined when it does not exist. */
  getManifest(repository: string, reference: string): Promise<FetchedManifest | undefined>;
  /** Stores a manifest under its digest, and under `tag` when given. */
  putManifest(repository: string, bytes: Uint8Array, mediaType: string, tag?: string): Promise<Descriptor>;
  /** The blob's size, or undefined when it is missing. */
  hasBlob(repository: string, digest: string): Promise<number | undefined>;
  /** The whole blob, verified against its digest (for configs and small blobs). */
  getBlob(repository: string, digest: string): Promise<Buffer>;
  /** The blob as a stream (not verified: hash while reading when it matters). */
  openBlob(repository: string, digest: string): Promise<Readable>;
  pushBlob(
    repository: string,
    descriptor: Descriptor,
    source: BlobSource,
    options?: PushBlobOptions,
  ): Promise<PushOutcome>;
  /**
   * Stores a blob whose digest is known only once its bytes are read (a layer packed on the fly): the
   * bytes are hashed before or while they are written or uploaded. `open` may be called more than once
   * (a digest pass, a retried upload) and must produce the same bytes each time; a SourceChangedError
   * says it did not.
   */
  pushStream(repository: string, open: () => ByteSource, options?: PushStreamOptions): Promise<StreamedBlob>;
  /** Links a blob from another repository of the same store; false when the store would need the bytes. */
  mountBlob(repository: string, digest: string, from: string): Promise<boolean>;
  listTags(repository: string): Promise<string[]>;
  /**
   * Removes a tag, never the manifest it points at (other tags may share it); false when there was no
   * such tag. Throws a one-line error when the store cannot delete tags at all.
   */
  deleteTag(repository: string, tag: string): Promise<boolean>;
  /** Referrers of a manifest through the referrers API; undefined when the store has none (use the tag schema). */
  referrersApi(repository: string, digest: string): Promise<Descriptor[] | undefined>;
}
