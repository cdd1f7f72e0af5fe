/**
 * One error tree with stable codes. Every error says where it happened (file:line:col, or host +
 * task) and keeps its `cause`. The CLI prints `userMessage()` for these and never a stack trace.
 */

/** A position in a YAML source file, 1-based. */
export interface SourceLocation {
  file: string;
  line: number;
  col: number;
  /** The source line quoted in the message, when known. */
  text?: string;
}

export type FleetErrorCode =
  | 'PLAYBOOK'
  | 'INVENTORY'
  | 'CONNECTION'
  | 'HOSTKEY'
  | 'TASK'
  | 'ROLLBACK'
  | 'JOURNAL'
  | 'USAGE';

export interface FleetErrorOptions {
  location?: SourceLocation;
  host?: string;
  task?: string;
  /** How to fix it, in one sentence. */
  hint?: string;
  cause?: unknown;
}

export class FleetError extends Error {
  readonly code: FleetErrorCode;
  readonly location: SourceLocation | undefined;
  readonly host: string | undefined;
  readonly task: string | undefined;
  readonly hint: string | undefined;

  constructor(code: FleetErrorCode, message: string, opts: FleetErrorOptions = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = new.target.name;
    this.code = code;
    this.location = opts.location;
    this.host = opts.host;
    this.task = opts.task;
    this.hint = opts.hint;
  }

  /** The message a user sees: where, what, and how to fix it. */
  userMessage(): string {
    const parts: string[] = [];
    const where: string[] = [];
    if (this.location) where.push(`${this.location.file}:${this.location.line}:${this.location.col}`);
    if (this.host) where.push(`host ${this.host}`);
    if (this.task) where.push(`task "${this.task}"`);
    parts.push(where.length > 0 ? `${where.join(', ')}: ${this.message}` : this.message);
    if (this.location?.text !== undefined) {
      parts.push(`    ${this.location.text}`);
      parts.push(`    ${' '.repeat(Math.max(0, this.location.col - 1))}^`);
    }
    if (this.hint) parts.push(`  fix: ${this.hint}`);
    return parts.join('\n');
  }
}

export class PlaybookError extends FleetError {
  constructor(message: string, opts: FleetErrorOptions = {}) {
    super('PLAYBOOK', message, opts);
  }
}

export class InventoryError extends FleetError {
  constructor(message: string, opts: FleetErrorOptions = {}) {
    super('INVENTORY', message, opts);
  }
}

export class ConnectionError extends FleetError {
  constructor(message: string, opts: FleetErrorOptions = {}) {
    super('CONNECTION', message, opts);
  }
}

/** A host key that is unknown (and not opted in) or has changed. */
export class HostKeyError extends FleetError {
  constructor(message: string, opts: FleetErrorOptions = {}) {
    super('HOSTKEY', message, opts);
  }
}

export class TaskError extends FleetError {
  constructor(message: string, opts: FleetErrorOptions = {}) {
    super('TASK', message, opts);
  }
}

export class RollbackError extends FleetError {
  constructor(message: string, opts: FleetErrorOptions = {}) {
    super('ROLLBACK', message, opts);
  }
}

export class JournalError extends FleetError {
  constructor(message: string, opts: FleetErrorOptions = {}) {
    super('JOURNAL', message, opts);
  }
}

/** A bad command line: unknown run id, missing file, conflicting flags. */
export class UsageError extends FleetError {
  constructor(message: string, opts: FleetErrorOptions = {}) {
    super('USAGE', message, opts);
  }
}

export function isFleetError(e: unknown): e is FleetError {
  return e instanceof FleetError;
}

/** A short, single-line description of any thrown value, for error tails. */
export function describeError(e: unknown): string {
  if (e instanceof FleetError) return e.userMessage();
  if (e instanceof Error) return e.message;
  return String(e);
}
