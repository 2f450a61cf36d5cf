import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MlflowDouble } from '../doubles/mlflow';
import { Bindings, type Exchange, loadContract, replay } from './mlflow-fixtures';

/**
 * Proves the MLflow double: every exchange recorded from a real MLflow 2.12 server is replayed in order
 * against it and must come back with the same status, content type, listed headers and body.
 */
describe('MLflow double reproduces the recorded contract', () => {
  const exchanges: Exchange[] = loadContract();
  const plain = new MlflowDouble();
  const auth = new MlflowDouble({ users: { admin: { password: 'password1234', admin: true } } });
  const bindings = new Bindings();

  beforeAll(async () => {
    await plain.start();
    await auth.start();
  });
  afterAll(async () => {
    await plain.stop();
    await auth.stop();
  });

  it('has the 218 recorded exchanges', () => {
    expect(exchanges).toHaveLength(218);
  });

  it('answers every exchange as the real server did', async () => {
    const failures: string[] = [];
    for (const exchange of exchanges) {
      const server = exchange.server === 'basic-auth' ? auth : plain;
      const response = await replay(server.url, exchange, bindings);
      const expected = exchange.response;
      const problems: string[] = [];
      if (response.status !== expected.status)
        problems.push(`status ${response.status} != ${expected.status}`);
      if (response.headers.get('content-type') !== expected.content_type) {
        problems.push(`content-type ${response.headers.get('content-type')} != ${expected.content_type}`);
      }
      for (const [name, value] of Object.entries(expected.headers ?? {})) {
        if (response.headers.get(name) !== value)
          problems.push(`header ${name}: ${response.headers.get(name)} != ${value}`);
      }
      const bytes = Buffer.from(await response.arrayBuffer());
      if (expected.body_encoding === 'base64') {
        if (!bytes.equals(Buffer.from(expected.body as string, 'base64')))
          problems.push('binary body differs');
      } else if (expected.content_type.includes('json')) {
        let parsed: unknown;
        try {
          parsed = JSON.parse(bytes.toString('utf8'));
        } catch {
          problems.push(`body is not JSON: ${bytes.toString('utf8').slice(0, 200)}`);
        }
        const reason = parsed === undefined ? undefined : bindings.match(expected.body, parsed);
        if (reason) problems.push(reason);
      } else {
        const reason = bindings.matchText(String(expected.body), bytes.toString('utf8'));
        if (reason) problems.push(reason);
      }
      if (problems.length) failures.push(`${exchange.name}: ${problems.join('; ')}`);
    }
    expect(failures).toEqual([]);
  });
});
