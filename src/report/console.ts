/**
 * The terminal, for the CLI: messages and errors go through here (nothing else writes to stdout or
 * stderr but the reporters). Errors are redacted and never carry a stack trace for a user mistake.
 */
import { isFleetError } from '../errors.js';
import { MASK, Redactor } from './redact.js';
import { createPlainReporter } from './plain.js';
import { createProgressReporter } from './progress.js';
import type { EventSink } from '../runner/events.js';

const shared = new Redactor();

export function consoleRedactor(): Redactor {
  return shared;
}

export function say(text: string): void {
  process.stdout.write(shared.redact(text) + '\n');
}

export function warn(text: string): void {
  process.stderr.write(shared.redact(text) + '\n');
}

/** Print an error: a FleetError as its user message; anything else as an internal error with its stack. */
export function printError(e: unknown): void {
  if (isFleetError(e)) {
    process.stderr.write(`ERROR: ${shared.redact(e.userMessage())}\n`);
    return;
  }
  const err = e instanceof Error ? e : new Error(String(e));
  process.stderr.write(`INTERNAL ERROR (a bug in fleetplay, please report it): ${shared.redact(err.stack ?? err.message)}\n`);
}

export function reporterFor(opts: { diff: boolean; verbose: boolean; plain?: boolean }): EventSink {
  const tty = process.stdout.isTTY === true && process.env.CI === undefined && !opts.plain;
  const o = { out: process.stdout, diff: opts.diff, verbose: opts.verbose };
  return tty ? createProgressReporter(o) : createPlainReporter(o);
}

export { MASK };
