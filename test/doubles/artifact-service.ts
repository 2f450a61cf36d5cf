import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  BlobSASPermissions,
  BlobServiceClient,
  generateBlobSASQueryParameters,
  StorageSharedKeyCredential,
} from '@azure/storage-blob';
import { AZURITE_ACCOUNT, AZURITE_KEY, type AzuriteInstance, startAzurite } from '../servers/azurite';
import { listen, readBody, sendJson } from './http-server';

const SERVICE = '/twirp/github.actions.results.api.v1.ArtifactService/';

export interface StoredArtifact {
  id: number;
  name: string;
  size: number;
  hash?: string;
  blob: string;
  finalized: boolean;
}

/**
 * A double of GitHub's artifact service (the Twirp `github.actions.results.api.v1.ArtifactService`
 * that `@actions/artifact` v2+ calls): CreateArtifact hands out a signed upload URL, FinalizeArtifact
 * records size and hash. Requests carry proto field names; errors use Twirp's JSON error shape and HTTP
 * codes. The upload itself goes to a real Azure Blob emulator (Azurite), with a SAS signed by its
 * development key, as the service signs URLs to Azure storage.
 */
export class ArtifactServiceDouble {
  readonly artifacts: StoredArtifact[] = [];
  readonly runBackendId = 'c0ffee00-0000-4000-8000-000000000001';
  readonly jobBackendId = 'c0ffee00-0000-4000-8000-000000000002';
  /** The runner's ACTIONS_RUNTIME_TOKEN: a JWT whose `scp` claim names the run and job (unsigned here). */
  readonly token: string;
  private azurite?: AzuriteInstance;
  private server?: Awaited<ReturnType<typeof listen>>;
  private readonly container = `artifacts-${randomBytes(4).toString('hex')}`;

  constructor() {
    const encode = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
    this.token = [
      encode({ alg: 'HS256', typ: 'JWT' }),
      encode({ scp: `Actions.GenericRead:x Actions.Results:${this.runBackendId}:${this.jobBackendId}` }),
      randomBytes(16).toString('base64url'),
    ].join('.');
  }

  get url(): string {
    if (!this.server) throw new Error('artifact service double not started');
    return `${this.server.url}/`;
  }

  /** What a GitHub runner puts in a step's environment for the artifact client. */
  env(): Record<string, string> {
    return { ACTIONS_RUNTIME_TOKEN: this.token, ACTIONS_RESULTS_URL: this.url };
  }

  async start(): Promise<void> {
    this.azurite = await startAzurite();
    await this.blobService().getContainerClient(this.container).create();
    this.server = await listen((req, res) => this.handle(req, res));
  }

  async stop(): Promise<void> {
    await this.server?.close();
    await this.azurite?.stop();
  }

  /** The uploaded bytes of a finalized artifact (a zip unless uploaded with skipArchive). */
  async download(name: string): Promise<Buffer> {
    const artifact = this.artifacts.find((a) => a.name === name && a.finalized);
    if (!artifact) throw new Error(`no finalized artifact '${name}'`);
    return this.blobService()
      .getContainerClient(this.container)
      .getBlobClient(artifact.blob)
      .downloadToBuffer();
  }

  private blobService(): BlobServiceClient {
    if (!this.azurite) throw new Error('artifact service double not started');
    return new BlobServiceClient(
      this.azurite.blobEndpoint,
      new StorageSharedKeyCredential(AZURITE_ACCOUNT, AZURITE_KEY),
    );
  }

  private signedUrl(blob: string): string {
    const sas = generateBlobSASQueryParameters(
      {
        containerName: this.container,
        blobName: blob,
        permissions: BlobSASPermissions.parse('cw'),
        expiresOn: new Date(Date.now() + 3600_000),
      },
      new StorageSharedKeyCredential(AZURITE_ACCOUNT, AZURITE_KEY),
    );
    return `${this.azurite!.blobEndpoint}/${this.container}/${blob}?${sas.toString()}`;
  }

  private twirpError(res: ServerResponse, status: number, code: string, msg: string): void {
    sendJson(res, status, { code, msg });
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    if (req.method !== 'POST' || !path.startsWith(SERVICE))
      return this.twirpError(res, 404, 'bad_route', `no handler for path "${path}"`);
    if (req.headers.authorization !== `Bearer ${this.token}`)
      return this.twirpError(res, 401, 'unauthenticated', 'invalid token');
    if (!String(req.headers['content-type']).startsWith('application/json'))
      return this.twirpError(res, 400, 'malformed', 'unexpected Content-Type');
    let body: Record<string, unknown>;
    try {
      body = JSON.parse((await readBody(req)).toString('utf8')) as Record<string, unknown>;
    } catch {
      return this.twirpError(res, 400, 'malformed', 'the json request could not be decoded');
    }
    if (
      body.workflow_run_backend_id !== this.runBackendId ||
      body.workflow_job_run_backend_id !== this.jobBackendId
    )
      return this.twirpError(
        res,
        400,
        'invalid_argument',
        'workflow run or job backend id does not match the token',
      );
    const name = body.name;
    if (typeof name !== 'string' || name === '')
      return this.twirpError(res, 400, 'invalid_argument', 'name is required');
    const method = path.slice(SERVICE.length);
    if (method === 'CreateArtifact') {
      if (this.artifacts.some((a) => a.name === name))
        return this.twirpError(
          res,
          409,
          'already_exists',
          'an artifact with this name already exists on the workflow run',
        );
      const blob = `${this.runBackendId}/${randomBytes(8).toString('hex')}`;
      this.artifacts.push({ id: this.artifacts.length + 1, name, size: 0, blob, finalized: false });
      return sendJson(res, 200, { ok: true, signed_upload_url: this.signedUrl(blob) });
    }
    if (method === 'FinalizeArtifact') {
      const artifact = this.artifacts.find((a) => a.name === name && !a.finalized);
      if (!artifact) return this.twirpError(res, 404, 'not_found', 'artifact not found');
      const properties = await this.blobService()
        .getContainerClient(this.container)
        .getBlobClient(artifact.blob)
        .getProperties()
        .catch(() => undefined);
      if (!properties || String(properties.contentLength) !== String(body.size))
        return this.twirpError(res, 400, 'invalid_argument', 'the uploaded size does not match');
      artifact.size = Number(body.size);
      artifact.hash = typeof body.hash === 'string' ? body.hash : undefined;
      artifact.finalized = true;
      return sendJson(res, 200, { ok: true, artifact_id: String(artifact.id) });
    }
    return this.twirpError(res, 404, 'bad_route', `no handler for path "${path}"`);
  }
}
