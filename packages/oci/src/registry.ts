import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import {
  ActionError,
  type ByteSource,
  basicAuth,
  type ChunkReader,
  forEachChunk,
  HttpClient,
  type HttpClientOptions,
  HttpError,
  NetworkError,
  type RequestOptions,
  readableOf,
  readerOf,
} from '@mlops-actions/kit';
import {
  type Descriptor,
  type ImageIndex,
  INDEX_MEDIA_TYPES,
  MANIFEST_MEDIA_TYPES,
  type Manifest,
  MediaType,
  sha256,
} from './media';
import { isLoopback, registryApiHost } from './reference';
import {
  type BlobSource,
  type FetchedManifest,
  type OciStore,
  type PushBlobOptions,
  type PushOutcome,
  type PushStreamOptions,
  SourceChangedError,
  type StreamedBlob,
} from './store';

export interface RegistryCredentials {
  username: string;
  password: string;
}

export interface RegistryClientOptions {
  /** `host[:port]` as in a reference (`docker.io` is Docker Hub). */
  registry: string;
  credentials?: RegistryCredentials;
  /** The action input that holds the credentials, named in 401 errors (e.g. `registry-password`). */
  credentialInput?: string;
  /** Plain HTTP; the default for loopback hosts only. */
  insecure?: boolean;
  /** Bytes per PATCH for chunked uploads (after a 413, or for a stream hashed on the way). */
  chunkSize?: number;
  /** Attempts of a whole blob upload (a new upload session each) when one is cut off. */
  uploadAttempts?: number;
  http?: Omit<HttpClientOptions, 'baseUrl' | 'name'>;
  log?: (line: string) => void;
}

interface Challenge {
  scheme: 'basic' | 'bearer';
  realm?: string;
  service?: string;
  scope?: string;
}

/** Parses a `WWW-Authenticate` header (`Bearer realm="…",service="…",scope="…"` or `Basic realm="…"`). */
export function parseChallenge(header: string): Challenge | undefined {
  const match = /^\s*(\w+)\s*(.*)$/s.exec(header);
  if (!match) return undefined;
  const scheme = match[1]!.toLowerCase();
  if (scheme !== 'basic' && scheme !== 'bearer') return undefined;
  const params: Record<string, string> = {};
  for (const m of match[2]!.matchAll(/(\w+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]+))/g)) {
    params[m[1]!.toLowerCase()] = (m[2] ?? m[3] ?? '').replace(/\\(.)/g, '$1');
  }
  return { scheme, realm: params.realm, service: params.service, scope: params.scope };
}

const DEFAULT_CHUNK = 16 * 1024 * 1024;

/**
 * Time allowed for an upload request to be answered: the response only comes once the body is sent, so
 * it grows with the size (at least 512 KB/s, the pace the 30 s for a 16 MB chunk always allowed).
 */
function uploadTimeout(bytes: number): number {
  return 30_000 + Math.ceil(bytes / 512);
}

/**
 * A client of the OCI distribution spec with the bearer-token and basic auth flows and retries. Blobs go
 * up as one monolithic `PUT` (POST, then PUT with the digest): docker-registry 2.8 syncs its upload file
 * and hash state on every PATCH, so chunks cost it far more than one request. Chunked uploads remain for
 * registries that refuse a large body (413) and for streams hashed on the way.
 */
export class RegistryClient implements OciStore {
  readonly name: string;
  private readonly base: string;
  private readonly http: HttpClient;
  private challenge?: Challenge;
  private readonly tokens = new Map<string, string>();
  private readonly chunkSize: number;
  /** Set once the registry refused a monolithic body (413): later blobs go up in chunks at once. */
  private chunkedOnly = false;

  constructor(private readonly options: RegistryClientOptions) {
    this.name = options.registry;
    const scheme = (options.insecure ?? isLoopback(options.registry)) ? 'http' : 'https';
    this.base = `${scheme}://${registryApiHost(options.registry)}`;
    this.http = new HttpClient({
      ...options.http,
      name: `registry ${options.registry}`,
      log: options.log ?? options.http?.log,
    });
    this.chunkSize = options.chunkSize ?? DEFAULT_CHUNK;
  }

  private unauthorized(what: string): ActionError {
    const input = this.options.credentialInput
      ? `'${this.options.credentialInput}'`
      : 'the registry credentials';
    return new ActionError(
      this.options.credentials
        ? `Registry ${this.name} refused the credentials of ${this.options.credentials.username ? `user '${this.options.credentials.username}'` : 'the token'} (401) for ${what}: check ${input} and its permissions`
        : `Registry ${this.name} needs credentials (401) for ${what}: set ${input}`,
    );
  }

  private async learnChallenge(): Promise<Challenge | undefined> {
    if (this.challenge) return this.challenge;
    const response = await this.http.request('GET', `${this.base}/v2/`, { accept: [401, 404] });
    await response.body?.cancel();
    if (response.status === 401)
      this.challenge = parseChallenge(response.headers.get('www-authenticate') ?? '');
    return this.challenge;
  }

  private async token(challenge: Challenge, scopes: string[], what: string): Promise<string> {
    const key = [...new Set(scopes)].sort().join(' ');
    const cached = this.tokens.get(key);
    if (cached) return cached;
    if (!challenge.realm)
      throw new ActionError(`Registry ${this.name} sent a bearer challenge without a realm`);
    const url = new URL(challenge.realm);
    if (challenge.service) url.searchParams.set('service', challenge.service);
    for (const scope of new Set(scopes)) url.searchParams.append('scope', scope);
    const creds = this.options.credentials;
    const response = await this.http.request('GET', url.toString(), {
      headers: creds ? { authorization: basicAuth(creds.username, creds.password) } : {},
      accept: [401, 403],
    });
    if (response.status === 401 || response.status === 403) {
      await response.body?.cancel();
      throw this.unauthorized(what);
    }
    const body = (await response.json()) as { token?: string; access_token?: string };
    const token = body.token ?? body.access_token;
    if (!token) throw new ActionError(`Token server of ${this.name} answered without a token`);
    this.tokens.set(key, token);
    return token;
  }

  private async authHeader(scopes: string[], what: string, fresh = false): Promise<Record<string, string>> {
    const challenge = await this.learnChallenge();
    if (!challenge) return {};
    if (challenge.scheme === 'basic') {
      const creds = this.options.credentials;
      if (!creds) throw this.unauthorized(what);
      return { authorization: basicAuth(creds.username, creds.password) };
    }
    if (fresh) this.tokens.delete([...new Set(scopes)].sort().join(' '));
    return { authorization: `Bearer ${await this.token(challenge, scopes, what)}` };
  }

  /** One request with auth; a 401 after a cached token refreshes it once. */
  private async call(
    method: string,
    url: string,
    scopes: string[],
    what: string,
    options: RequestOptions = {},
  ): Promise<Response> {
    for (let attempt = 0; ; attempt++) {
      const auth = await this.authHeader(scopes, what, attempt > 0);
      const response = await this.http.request(method, url, {
        ...options,
        headers: { ...options.headers, ...auth },
        accept: [...(options.accept ?? []), 401],
      });
      if (response.status !== 401) return response;
      await response.body?.cancel();
      const challenge = parseChallenge(response.headers.get('www-authenticate') ?? '');
      if (attempt > 0 || !challenge) throw this.unauthorized(what);
      this.challenge = challenge;
    }
  }

  private url(repository: string, path: string): string {
    return `${this.base}/v2/${repository}/${path}`;
  }

  async resolve(repository: string, reference: string): Promise<Descriptor | undefined> {
    const what = `${repository}:${reference}`;
    const response = await this.call(
      'HEAD',
      this.url(repository, `manifests/${reference}`),
      pull(repository),
      what,
      {
        headers: { accept: MANIFEST_MEDIA_TYPES.join(', ') },
        accept: [404],
      },
    );
    if (response.status === 404) return undefined;
    const digest = response.headers.get('docker-content-digest');
    const mediaType = response.headers.get('content-type');
    const size = Number(response.headers.get('content-length'));
    if (digest && mediaType && Number.isFinite(size) && size > 0) return { mediaType, digest, size };
    return (await this.getManifest(repository, reference))?.descriptor;
  }

  async getManifest(repository: string, reference: string): Promise<FetchedManifest | undefined> {
    const what = `${repository}:${reference}`;
    const response = await this.call(
      'GET',
      this.url(repository, `manifests/${reference}`),
      pull(repository),
      what,
      {
        headers: { accept: MANIFEST_MEDIA_TYPES.join(', ') },
        accept: [404],
      },
    );
    if (response.status === 404) {
      await response.body?.cancel();
      return undefined;
    }
    const bytes = Buffer.from(await response.arrayBuffer());
    return parseManifest(bytes, reference, response.headers.get('content-type'), `${this.name}/${what}`);
  }

  async putManifest(
    repository: string,
    bytes: Uint8Array,
    mediaType: string,
    tag?: string,
  ): Promise<Descriptor> {
    const digest = sha256(bytes);
    const reference = tag ?? digest;
    const response = await this.call(
      'PUT',
      this.url(repository, `manifests/${reference}`),
      push(repository),
      `${repository}:${reference}`,
      { headers: { 'content-type': mediaType }, body: bytes },
    );
    await response.body?.cancel();
    const stored = response.headers.get('docker-content-digest');
    if (stored && stored !== digest)
      throw new ActionError(
        `Registry ${this.name} stored manifest ${repository}:${reference} as ${stored}, expected ${digest}`,
      );
    return { mediaType, digest, size: bytes.byteLength };
  }

  async hasBlob(repository: string, digest: string): Promise<number | undefined> {
    const response = await this.call(
      'HEAD',
      this.url(repository, `blobs/${digest}`),
      pull(repository),
      `${repository}@${digest}`,
      {
        accept: [404],
      },
    );
    if (response.status === 404) return undefined;
    return Number(response.headers.get('content-length'));
  }

  async getBlob(repository: string, digest: string): Promise<Buffer> {
    const response = await this.call(
      'GET',
      this.url(repository, `blobs/${digest}`),
      pull(repository),
      `${repository}@${digest}`,
    );
    const bytes = Buffer.from(await response.arrayBuffer());
    if (sha256(bytes) !== digest && digest.startsWith('sha256:'))
      throw new ActionError(`Blob ${repository}@${digest} from ${this.name} does not match its digest`);
    return bytes;
  }

  async openBlob(repository: string, digest: string): Promise<Readable> {
    const response = await this.call(
      'GET',
      this.url(repository, `blobs/${digest}`),
      pull(repository),
      `${repository}@${digest}`,
    );
    if (!response.body) throw new ActionError(`Blob ${repository}@${digest} from ${this.name} has no body`);
    return Readable.fromWeb(response.body as import('node:stream/web').ReadableStream<Uint8Array>);
  }

  async mountBlob(repository: string, digest: string, from: string): Promise<boolean> {
    const response = await this.call(
      'POST',
      this.url(repository, 'blobs/uploads/'),
      [...push(repository), ...pull(from)],
      `${repository}@${digest} (mount from ${from})`,
      { query: { mount: digest, from } },
    );
    await response.body?.cancel();
    if (response.status === 201) return true;
    // 202: the registry could not mount and opened an upload session instead; drop it.
    const location = response.headers.get('location');
    if (location) await this.cancelUpload(repository, this.resolveLocation(location));
    return false;
  }

  /**
   * Drops an upload session (best effort: a registry that cannot expires it on its own). Its status (GET)
   * comes first: a session the registry dropped already is left alone, and a live one is deleted at the
   * location the registry gives now (distribution 2.8 encodes the offset in it; a cut PATCH moved it).
   */
  private async cancelUpload(repository: string, location: string): Promise<void> {
    const what = `${repository} upload`;
    try {
      const status = await this.call('GET', location, push(repository), what, { accept: [400, 404] });
      await status.body?.cancel();
      if (status.status === 404) return;
      const current = status.headers.get('location');
      const response = await this.call(
        'DELETE',
        current ? this.resolveLocation(current) : location,
        push(repository),
        what,
        { accept: [400, 404, 405], retry: false },
      );
      await response.body?.cancel();
      if (response.status >= 400)
        this.options.log?.(
          `${this.name} kept an upload session of ${repository} (DELETE answered ${response.status})`,
        );
    } catch (error) {
      this.options.log?.(`could not drop an upload session on ${this.name}: ${(error as Error).message}`);
    }
  }

  async pushBlob(
    repository: string,
    descriptor: Descriptor,
    source: BlobSource,
    options: PushBlobOptions = {},
  ): Promise<PushOutcome> {
    if ((await this.hasBlob(repository, descriptor.digest)) !== undefined) return 'exists';
    if (options.mountFrom && options.mountFrom !== repository) {
      if (await this.mountBlob(repository, descriptor.digest, options.mountFrom)) return 'mounted';
    }
    await this.retryUpload(`${descriptor.digest}`, repository, options.signal, () =>
      this.upload(repository, descriptor, source, options),
    );
    return 'uploaded';
  }

  /**
   * A stream that can be read twice (`open` gives the same bytes each time) is hashed by a read of its
   * own. With its `size` known, the bytes go up at once in one PATCH while that read hashes them, and the
   * closing PUT gives the digest (the registry checks it); a blob the registry turns out to have stops
   * the PATCH. Without a size, the hash comes first and the bytes go up in one monolithic PUT, hashed
   * again on the way. With `digestFirst: false` it is read once, sent in chunks and hashed on the way.
   */
  async pushStream(
    repository: string,
    open: () => ByteSource,
    options: PushStreamOptions = {},
  ): Promise<StreamedBlob> {
    if (options.digestFirst === false) {
      const stored = await this.retryUpload('a streamed blob', repository, options.signal, () =>
        this.uploadStream(repository, open, options),
      );
      return { ...stored, outcome: 'uploaded' };
    }
    if (options.size !== undefined && options.size > 0 && !this.chunkedOnly)
      return this.pushOverlapped(repository, open, options.size, options);
    const started = performance.now();
    const { digest, size } = await digestOf(open(), options.signal);
    const exists = (await this.hasBlob(repository, digest)) !== undefined;
    this.options.log?.(
      `${digest} (${size} bytes) hashed in ${((performance.now() - started) / 1000).toFixed(1)} s; ${exists ? `${this.name}/${repository} has it already, nothing to upload` : `uploading it to ${this.name}/${repository}`}`,
    );
    if (exists) return { digest, size, outcome: 'exists' };
    return this.uploadHashed(repository, open, digest, size, options);
  }

  /** Sends a stream whose digest is known (monolithic, or chunks after a 413), a new session per attempt. */
  private async uploadHashed(
    repository: string,
    open: () => ByteSource,
    digest: string,
    size: number,
    options: PushStreamOptions,
  ): Promise<StreamedBlob> {
    const descriptor = { mediaType: 'application/octet-stream', digest, size };
    await this.retryUpload(digest, repository, options.signal, () =>
      this.upload(repository, descriptor, () => readableOf(open()), options),
    );
    return { digest, size, outcome: 'uploaded' };
  }

  /**
   * The client's hash is off the critical path: the bytes are sent unhashed while a second read, ahead
   * of the network, hashes them. The registry hashes what it receives and refuses a closing digest that
   * does not match (DIGEST_INVALID), so a source that changed between the reads cannot be stored.
   */
  private async pushOverlapped(
    repository: string,
    open: () => ByteSource,
    size: number,
    options: PushStreamOptions,
  ): Promise<StreamedBlob> {
    const started = performance.now();
    const stopHashing = new AbortController();
    const hashSignal = options.signal
      ? AbortSignal.any([options.signal, stopHashing.signal])
      : stopHashing.signal;
    const hashing = digestOf(open(), hashSignal).then(({ digest, size: hashed }) => {
      if (hashed !== size)
        throw new SourceChangedError(
          `The stream pushed to ${this.name}/${repository} gave ${hashed} bytes, not the ${size} announced`,
        );
      this.options.log?.(
        `${digest} (${size} bytes) hashed in ${((performance.now() - started) / 1000).toFixed(1)} s while it was being sent to ${this.name}/${repository}`,
      );
      return digest;
    });
    hashing.catch(() => undefined);
    let outcome: PushOutcome | 'refused';
    try {
      outcome = await this.retryUpload(`a ${size}-byte stream`, repository, options.signal, () =>
        this.overlappedUpload(repository, open, size, hashing, options),
      );
    } catch (error) {
      // An upload that failed for good (a 401, a session never opened) stops the read that hashes.
      stopHashing.abort();
      throw error;
    }
    const digest = await hashing;
    if (outcome !== 'refused') return { digest, size, outcome };
    this.chunkedOnly = true;
    const chunkSize = options.chunkSize ?? this.chunkSize;
    this.options.log?.(
      `${this.name} refused ${size} bytes in one request (413); uploading in ${chunkSize}-byte chunks from now on`,
    );
    return this.uploadHashed(repository, open, digest, size, options);
  }

  /**
   * One session of the overlapped push: the PATCH starts at once; once the digest is known, a blob the
   * registry has stops it and drops the session, otherwise the PUT with the digest closes it.
   */
  private async overlappedUpload(
    repository: string,
    open: () => ByteSource,
    size: number,
    hashing: Promise<string>,
    options: PushStreamOptions,
  ): Promise<PushOutcome | 'refused'> {
    const what = `${repository} (${size}-byte stream)`;
    const location = await this.startUpload(repository, what);
    const stop = new AbortController();
    const signal = options.signal ? AbortSignal.any([options.signal, stop.signal]) : stop.signal;
    const sending = this.patchWhole(repository, location, open, size, what, { ...options, signal });
    sending.catch(() => undefined);
    let digest: string;
    try {
      digest = await hashing;
    } catch (error) {
      stop.abort();
      await this.cancelUpload(repository, location);
      throw error;
    }
    if ((await this.hasBlob(repository, digest)) !== undefined) {
      stop.abort();
      await sending.catch(() => undefined);
      await this.cancelUpload(repository, location);
      this.options.log?.(
        `${this.name}/${repository} has ${digest} already: the upload was stopped and its session dropped`,
      );
      return 'exists';
    }
    try {
      const sent = await sending;
      if (sent === undefined) {
        await this.cancelUpload(repository, location);
        return 'refused';
      }
      await this.finishUpload(repository, sent, digest, `${repository}@${digest}`, options.signal);
      return 'uploaded';
    } catch (error) {
      // A changed source is not retried: drop its session rather than leave it for the registry to expire.
      if (error instanceof SourceChangedError) await this.cancelUpload(repository, location);
      throw error;
    }
  }

  /**
   * The whole stream in one PATCH (`Content-Range: 0-<size-1>` and its Content-Length, as the spec asks
   * of a chunk). The session's next location, or undefined when the registry answered 413.
   */
  private async patchWhole(
    repository: string,
    location: string,
    open: () => ByteSource,
    size: number,
    what: string,
    options: PushStreamOptions,
  ): Promise<string | undefined> {
    const body = exactly(open, size, what, options.onProgress);
    let response: Response;
    try {
      response = await this.call('PATCH', location, push(repository), what, {
        headers: {
          'content-type': 'application/octet-stream',
          'content-length': String(size),
          'content-range': `0-${size - 1}`,
        },
        body: body.open,
        accept: [413],
        retry: false,
        signal: options.signal,
        timeoutMs: uploadTimeout(size),
      });
    } catch (error) {
      throw body.failure() ?? error;
    }
    await response.body?.cancel();
    if (response.status === 413) return undefined;
    const next = response.headers.get('location');
    return next ? this.resolveLocation(next) : location;
  }

  /** Runs a whole upload again, in a new session, when it was cut off by the network or a 5xx. */
  private async retryUpload<T>(
    what: string,
    repository: string,
    signal: AbortSignal | undefined,
    upload: () => Promise<T>,
  ): Promise<T> {
    const attempts = this.options.uploadAttempts ?? 3;
    for (let attempt = 1; ; attempt++) {
      try {
        return await upload();
      } catch (error) {
        const transient =
          error instanceof NetworkError ||
          (error instanceof HttpError && error.status >= 500) ||
          (error as { name?: string }).name === 'TypeError';
        if (!transient || attempt >= attempts || signal?.aborted) throw error;
        this.options.log?.(
          `upload of ${what} to ${this.name}/${repository} was cut off (${(error as Error).message}); starting again (${attempt + 1}/${attempts})`,
        );
        await new Promise((r) => setTimeout(r, 250 * 2 ** (attempt - 1)));
      }
    }
  }

  private resolveLocation(location: string): string {
    return new URL(location, this.base).toString();
  }

  private async startUpload(repository: string, what: string): Promise<string> {
    const response = await this.call('POST', this.url(repository, 'blobs/uploads/'), push(repository), what);
    await response.body?.cancel();
    const location = response.headers.get('location');
    if (response.status !== 202 || !location)
      throw new ActionError(
        `Registry ${this.name} did not open an upload for ${what} (status ${response.status})`,
      );
    return this.resolveLocation(location);
  }

  /**
   * One upload session: the whole blob in one PUT, or in PATCHes once the registry has answered 413 to a
   * whole body. The bytes are hashed on the way; a source that no longer gives them fails clearly.
   */
  private async upload(
    repository: string,
    descriptor: Descriptor,
    source: BlobSource,
    options: PushBlobOptions,
  ): Promise<void> {
    const what = `${repository}@${descriptor.digest}`;
    const chunkSize = options.chunkSize ?? this.chunkSize;
    const chunked = this.chunkedOnly || (options.chunkSize !== undefined && descriptor.size > chunkSize);
    if (!chunked) {
      const location = await this.startUpload(repository, what);
      if (await this.putWhole(repository, location, descriptor, source, what, options)) return;
      this.chunkedOnly = true;
      this.options.log?.(
        `${this.name} refused ${descriptor.size} bytes in one request (413); uploading in ${chunkSize}-byte chunks from now on`,
      );
    }
    const location = await this.startUpload(repository, what);
    const sent = await this.patchChunks(
      repository,
      location,
      chunks(verified(source, descriptor, what), chunkSize),
      what,
      options,
    );
    await this.finishUpload(repository, sent.location, descriptor.digest, what, options.signal);
  }

  /**
   * The monolithic upload: `PUT <location>?digest=…` with the whole body and its Content-Length. False
   * when the registry answered 413 (the body is too large for it), so the caller can send chunks instead.
   */
  private async putWhole(
    repository: string,
    location: string,
    descriptor: Descriptor,
    source: BlobSource,
    what: string,
    options: PushBlobOptions,
  ): Promise<boolean> {
    const url = new URL(location);
    url.searchParams.set('digest', descriptor.digest);
    const body = sourceBody(verified(source, descriptor, what), options.onProgress);
    let response: Response;
    try {
      response = await this.call('PUT', url.toString(), push(repository), what, {
        headers: {
          'content-type': 'application/octet-stream',
          'content-length': String(descriptor.size),
        },
        body: body.open,
        accept: [413],
        retry: false,
        signal: options.signal,
        timeoutMs: uploadTimeout(descriptor.size),
      });
    } catch (error) {
      // A source that failed or changed breaks the request; its own error says what happened.
      throw body.failure() ?? error;
    }
    await response.body?.cancel();
    return response.status !== 413;
  }

  /** A chunked upload of bytes whose digest is computed on the way and given in the closing PUT. */
  private async uploadStream(
    repository: string,
    open: () => ByteSource,
    options: PushStreamOptions,
  ): Promise<{ digest: string; size: number }> {
    const what = `${repository} (streamed blob)`;
    const location = await this.startUpload(repository, what);
    const hash = createHash('sha256');
    const stream = readableOf(open());
    try {
      const hashed = async function* (parts: AsyncIterable<Buffer>) {
        for await (const part of parts) {
          hash.update(part);
          yield part;
        }
      };
      const sent = await this.patchChunks(
        repository,
        location,
        hashed(chunks(stream, options.chunkSize ?? this.chunkSize)),
        what,
        options,
      );
      const digest = `sha256:${hash.digest('hex')}`;
      await this.finishUpload(repository, sent.location, digest, `${repository}@${digest}`, options.signal);
      return { digest, size: sent.size };
    } finally {
      stream.destroy();
    }
  }

  /**
   * PATCHes the chunks in order (`Content-Range` from the spec's chunked upload). The next chunk is read
   * while the current one is sent, so packing and uploading overlap, with two chunks in memory at most.
   */
  private async patchChunks(
    repository: string,
    start: string,
    parts: AsyncIterable<Buffer>,
    what: string,
    options: { onProgress?: (bytes: number) => void; signal?: AbortSignal },
  ): Promise<{ location: string; size: number }> {
    let location = start;
    let offset = 0;
    for await (const chunk of readAhead(parts)) {
      const response = await this.call('PATCH', location, push(repository), what, {
        headers: {
          'content-type': 'application/octet-stream',
          'content-range': `${offset}-${offset + chunk.byteLength - 1}`,
        },
        body: chunk,
        retry: false,
        signal: options.signal,
        timeoutMs: uploadTimeout(chunk.byteLength),
      });
      await response.body?.cancel();
      offset += chunk.byteLength;
      options.onProgress?.(chunk.byteLength);
      const next = response.headers.get('location');
      if (next) location = this.resolveLocation(next);
    }
    return { location, size: offset };
  }

  private async finishUpload(
    repository: string,
    location: string,
    digest: string,
    what: string,
    signal?: AbortSignal,
  ): Promise<void> {
    const url = new URL(location);
    url.searchParams.set('digest', digest);
    const response = await this.call('PUT', url.toString(), push(repository), what, {
      retry: false,
      signal,
      accept: [400],
    });
    const text = await response.text().catch(() => '');
    if (response.status !== 400) return;
    const code = /"code"\s*:\s*"([A-Z_]+)"/.exec(text)?.[1];
    if (code === 'DIGEST_INVALID')
      throw new SourceChangedError(
        `The bytes of ${what} changed while they were uploaded: ${this.name} received bytes with another digest (DIGEST_INVALID), so its source gave other bytes than when it was hashed`,
      );
    throw new ActionError(
      `Registry ${this.name} refused to close the upload of ${what} (400${code ? ` ${code}` : ''})`,
    );
  }

  async listTags(repository: string): Promise<string[]> {
    const tags = new Set<string>();
    let url: string | undefined = `${this.url(repository, 'tags/list')}?n=1000`;
    while (url) {
      const response: Response = await this.call('GET', url, pull(repository), `${repository} tags`, {
        accept: [404],
      });
      if (response.status === 404) {
        await response.body?.cancel();
        return [];
      }
      const body = (await response.json()) as { tags?: string[] | null };
      for (const tag of body.tags ?? []) tags.add(tag);
      const next = /<([^>]+)>\s*;\s*rel="?next"?/.exec(response.headers.get('link') ?? '');
      url = next ? this.resolveLocation(next[1]!) : undefined;
    }
    return [...tags].sort();
  }

  /**
   * `DELETE /v2/<name>/manifests/<tag>` (distribution spec v1.1, where the registry supports it). Never
   * falls back to deleting by digest: that would take every tag of the manifest, the version's with it.
   * distribution 2.8 refuses both ways: 405 UNSUPPORTED with deletes disabled, 400 DIGEST_INVALID with
   * them enabled (it deletes manifests by digest only).
   */
  async deleteTag(repository: string, tag: string): Promise<boolean> {
    const response = await this.call(
      'DELETE',
      this.url(repository, `manifests/${tag}`),
      push(repository),
      `${repository}:${tag}`,
      { accept: [400, 404, 405] },
    );
    const text = await response.text().catch(() => '');
    if (response.status === 202 || response.status === 200) return true;
    const code = /"code"\s*:\s*"([A-Z_]+)"/.exec(text)?.[1];
    if (response.status === 404) return false;
    throw new ActionError(
      `Registry ${this.name} cannot delete tags (DELETE ${repository}:${tag} answered ${response.status}${code ? ` ${code}` : ''}): move the tag instead`,
    );
  }

  async referrersApi(repository: string, digest: string): Promise<Descriptor[] | undefined> {
    const response = await this.call(
      'GET',
      this.url(repository, `referrers/${digest}`),
      pull(repository),
      `${repository} referrers`,
      {
        headers: { accept: MediaType.ociIndex },
        accept: [404, 405, 400],
      },
    );
    const type = response.headers.get('content-type') ?? '';
    if (response.status !== 200 || !type.includes(MediaType.ociIndex)) {
      await response.body?.cancel();
      return undefined;
    }
    return ((await response.json()) as ImageIndex).manifests ?? [];
  }
}

function pull(repository: string): string[] {
  return [`repository:${repository}:pull`];
}

function push(repository: string): string[] {
  return [`repository:${repository}:pull,push`];
}

/** Parses and verifies a manifest: a digest reference must match the bytes. */
export function parseManifest(
  bytes: Buffer,
  reference: string,
  contentType: string | null,
  where: string,
): FetchedManifest {
  const digest = sha256(bytes);
  if (reference.startsWith('sha256:') && reference !== digest)
    throw new ActionError(`Manifest ${where} does not match its digest (got ${digest})`);
  let manifest: Manifest;
  try {
    manifest = JSON.parse(bytes.toString('utf8')) as Manifest;
  } catch {
    throw new ActionError(`Manifest ${where} is not JSON`);
  }
  const declared = manifest.mediaType ?? contentType?.split(';')[0]?.trim();
  const mediaType =
    declared && MANIFEST_MEDIA_TYPES.includes(declared)
      ? declared
      : 'manifests' in manifest
        ? MediaType.ociIndex
        : MediaType.ociManifest;
  return { descriptor: { mediaType, digest, size: bytes.byteLength }, bytes, manifest };
}

export function isIndexMediaType(mediaType: string): boolean {
  return INDEX_MEDIA_TYPES.includes(mediaType);
}

/**
 * Iterates `source` one item ahead: the next item is being produced while the caller works on the
 * current one. A failure of that early read surfaces on the next step, never as an unhandled rejection.
 */
export async function* readAhead<T>(source: AsyncIterable<T>): AsyncGenerator<T> {
  const iterator = source[Symbol.asyncIterator]();
  let next = iterator.next();
  next.catch(() => undefined);
  try {
    for (;;) {
      const item = await next;
      if (item.done) return;
      next = iterator.next();
      next.catch(() => undefined);
      yield item.value;
    }
  } finally {
    await next.then(
      () => iterator.return?.(),
      () => undefined,
    );
  }
}

/** The sha256 and size of a source, read to its end without keeping it. */
async function digestOf(source: ByteSource, signal?: AbortSignal): Promise<{ digest: string; size: number }> {
  const hash = createHash('sha256');
  const size = await forEachChunk(source, (chunk) => void hash.update(chunk), { signal });
  return { digest: `sha256:${hash.digest('hex')}`, size };
}

/**
 * The bytes of `source`, hashed on the way: more bytes than the descriptor says, or another digest at the
 * end, fail with a SourceChangedError before the upload can be closed.
 */
async function* verified(source: BlobSource, descriptor: Descriptor, what: string): AsyncGenerator<Buffer> {
  if (source instanceof Uint8Array) {
    yield Buffer.from(source.buffer, source.byteOffset, source.byteLength);
    return;
  }
  const hash = createHash('sha256');
  let size = 0;
  const stream = source();
  const changed = (detail: string) =>
    new SourceChangedError(
      `The bytes of ${what} changed while they were uploaded (${detail}): its source gave other bytes than when it was hashed`,
    );
  try {
    for await (const raw of stream) {
      const part = raw as Buffer;
      size += part.byteLength;
      if (size > descriptor.size) throw changed(`more than the ${descriptor.size} bytes hashed`);
      hash.update(part);
      yield part;
    }
  } finally {
    stream.destroy();
  }
  const digest = `sha256:${hash.digest('hex')}`;
  if (size !== descriptor.size || digest !== descriptor.digest)
    throw changed(
      `${size} bytes with digest ${digest}, not ${descriptor.size} bytes with ${descriptor.digest}`,
    );
}

/**
 * A request body from `parts` that counts progress. A source that fails breaks the request with a
 * network error; `failure` keeps the source's own error, which says what happened.
 */
function sourceBody(
  parts: AsyncIterable<Buffer>,
  onProgress?: (bytes: number) => void,
): { open: () => Readable; failure: () => Error | undefined } {
  let failure: Error | undefined;
  const body = async function* () {
    try {
      for await (const part of parts) {
        yield part;
        onProgress?.(part.byteLength);
      }
    } catch (error) {
      failure = error as Error;
      throw error;
    }
  };
  return { open: () => Readable.from(body(), { objectMode: false }), failure: () => failure };
}

/**
 * A request body from `open` that must give exactly `size` bytes (announced as the Content-Length),
 * counting progress. A source that fails or gives other bytes breaks the request; `failure` keeps the
 * source's own error, which says what happened. The request closes the reader when it stops early.
 */
function exactly(
  open: () => ByteSource,
  size: number,
  what: string,
  onProgress?: (bytes: number) => void,
): { open: () => ChunkReader; failure: () => Error | undefined } {
  let failure: Error | undefined;
  const changed = (detail: string) =>
    new SourceChangedError(`The bytes of ${what} changed while they were uploaded (${detail})`);
  return {
    open: () => {
      const reader = readerOf(open());
      let read = 0;
      let closed = false;
      return {
        async readInto(into) {
          try {
            const n = await reader.readInto(into);
            read += n;
            if (read > size) throw changed(`more than the ${size} bytes announced`);
            if (n === 0 && read !== size) throw changed(`${read} bytes, not the ${size} announced`);
            onProgress?.(n);
            return n;
          } catch (error) {
            // A read cut off because the request closed (a reset, a timeout) is not the source's failure.
            if (!closed) failure = error as Error;
            throw error;
          }
        },
        close: () => {
          closed = true;
          reader.close();
        },
      };
    },
    failure: () => failure,
  };
}

/** Fixed-size chunks of a byte stream, so memory stays at one chunk whatever the blob size. */
async function* chunks(source: AsyncIterable<Uint8Array>, size: number): AsyncGenerator<Buffer> {
  let buffer = Buffer.allocUnsafe(size);
  let filled = 0;
  for await (const part of source) {
    let data = part;
    while (data.byteLength > 0) {
      const n = Math.min(size - filled, data.byteLength);
      buffer.set(data.subarray(0, n), filled);
      filled += n;
      data = data.subarray(n);
      if (filled === size) {
        yield buffer;
        buffer = Buffer.allocUnsafe(size);
        filled = 0;
      }
    }
  }
  if (filled > 0) yield buffer.subarray(0, filled);
}
