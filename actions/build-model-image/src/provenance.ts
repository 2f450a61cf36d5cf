import type { ActionContext, GithubContext } from '@mlops-actions/kit';

export const SLSA_PROVENANCE = 'https://slsa.dev/provenance/v1';
export const BUILD_TYPE = 'https://github.com/mlops-actions/build-model-image@v1';

export interface ProvenanceInput {
  repository: string;
  digest: string;
  base: { name: string; digest: string };
  model: { uri: string; digest?: string };
  externalParameters: Record<string, unknown>;
  github: GithubContext;
}

/** An in-toto statement carrying SLSA provenance v1 for the image: builder, source, base and model as materials. */
export function provenanceStatement(p: ProvenanceInput) {
  const g = p.github;
  const source = g.repository ? `git+${g.serverUrl}/${g.repository}@${g.ref}` : undefined;
  return {
    _type: 'https://in-toto.io/Statement/v1',
    subject: [{ name: p.repository, digest: { sha256: p.digest.replace(/^sha256:/, '') } }],
    predicateType: SLSA_PROVENANCE,
    predicate: {
      buildDefinition: {
        buildType: BUILD_TYPE,
        externalParameters: p.externalParameters,
        internalParameters: {
          github: { event_name: g.eventName, repository: g.repository, workflow: g.workflow },
        },
        resolvedDependencies: [
          { uri: p.base.name, digest: { sha256: p.base.digest.replace(/^sha256:/, '') } },
          {
            uri: p.model.uri,
            ...(p.model.digest ? { digest: { sha256: p.model.digest.replace(/^sha256:/, '') } } : {}),
          },
          ...(source && g.sha ? [{ uri: source, digest: { gitCommit: g.sha } }] : []),
        ],
      },
      runDetails: {
        builder: { id: g.runUrl ?? `${g.serverUrl}/${g.repository}/actions` },
        metadata: { invocationId: g.runUrl ?? '' },
      },
    },
  };
}

/** Signs and stores the statement with `@actions/attest` when the job can get an OIDC token; else says why not. */
export async function attestOnGithub(
  statement: ReturnType<typeof provenanceStatement>,
  ctx: ActionContext,
): Promise<{ attested: boolean; url?: string; reason?: string }> {
  if (!ctx.env.ACTIONS_ID_TOKEN_REQUEST_URL)
    return { attested: false, reason: 'no id-token (add permissions: id-token: write, attestations: write)' };
  if (!ctx.github.token) return { attested: false, reason: 'no GITHUB_TOKEN to store the attestation' };
  const { attest } = await import('@actions/attest');
  const result = await attest({
    subjects: statement.subject,
    predicateType: statement.predicateType,
    predicate: statement.predicate,
    token: ctx.github.token,
  });
  return {
    attested: true,
    url: result.attestationID
      ? `${ctx.github.serverUrl}/${ctx.github.repository}/attestations/${result.attestationID}`
      : undefined,
  };
}
