import { setTimeout as sleep } from 'node:timers/promises';
import { defineAction, input, z } from '@mlops-actions/kit';

/**
 * A test-only action that exercises every part of the runtime the harness must reproduce: typed
 * inputs, a secret, state handed to the post step, outputs with newlines, a job summary and a comment.
 */
export default defineAction({
  id: 'sample-action',
  name: 'Sample action (tests only)',
  description: 'Exercises the action runtime for the harness tests.',
  inputs: z.object({
    greeting: z.string().default('hello').describe('Word to greet with'),
    names: input.list().prefault('world').describe('Names to greet, by newline or comma'),
    wait: input.duration().prefault('0s').describe('How long to sleep before answering'),
    share: input.percent().prefault('10%').describe('A percentage echoed back'),
    'ignore-cancel': input.boolean().prefault('false').describe('Keep waiting when the job is cancelled'),
    fail: input.boolean().prefault('false').describe('Throw an error after saving state'),
    'fail-after-outputs': input
      .boolean()
      .prefault('false')
      .describe('Fail the step but still set the outputs'),
    token: input.secret(z.string().optional()).describe('A secret that must never be printed'),
    comment: input.boolean().prefault('false').describe('Post the greeting as a sticky comment'),
  }),
  outputs: z.object({
    message: z.string().describe('The greeting, one line per name'),
    count: z.number().describe('How many names were greeted'),
    share: z.number().describe('The share input as a number'),
    'comment-mode': z.string().describe('created, updated, summary or none'),
  }),
  async run(inputs, ctx) {
    ctx.state.save('names', inputs.names);
    if (inputs.token) ctx.log.info(`token is ${inputs.token}`);
    if (inputs.wait > 0) {
      try {
        await sleep(inputs.wait, undefined, { signal: inputs['ignore-cancel'] ? undefined : ctx.signal });
      } catch (error) {
        ctx.log.info('cancelled: cleaned up in the main step');
        throw error;
      }
    }
    if (inputs.fail) throw new Error('asked to fail');
    const message = inputs.names.map((name) => `${inputs.greeting}, ${name}!`).join('\n');
    ctx.summary.add(`### Greetings\n\n${message}`);
    let commentMode = 'none';
    if (inputs.comment) commentMode = (await ctx.comment('greeting', message)).mode;
    if (inputs['fail-after-outputs']) ctx.fail('greeted, but asked to fail');
    return { message, count: inputs.names.length, share: inputs.share, 'comment-mode': commentMode };
  },
  async post(_inputs, ctx) {
    ctx.log.info(`post saw names: ${JSON.stringify(ctx.state.get('names'))}`);
  },
});
