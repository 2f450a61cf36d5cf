/**
 * An error whose message is meant for the workflow author: one line saying what was wrong and what is
 * accepted. The runtime prints it without a stack trace.
 */
export class ActionError extends Error {
  override name = 'ActionError';
}

/** A bad input: names the input, shows the (masked) value and what the input accepts. */
export class InputError extends ActionError {
  override name = 'InputError';
  constructor(
    readonly input: string,
    problem: string,
  ) {
    // readInputs passes messages that already name their inputs (several, when several are wrong).
    super(problem.startsWith(`Input '${input}'`) ? problem : `Input '${input}': ${problem}`);
  }
}

/** Collapses a message to one line so a log reader sees it whole next to the failure annotation. */
export function oneLine(message: string): string {
  return message.replace(/\s*\n\s*/g, ' ').trim();
}

export function errorMessage(error: unknown): string {
  if (error instanceof Error) return error.message;
  return String(error);
}
