/**
 * Steps: the changes a plan asks for, as data. The runner, not the module, executes them through
 * the host's Connection after the undo record is in the journal. Everything except `call` is plain
 * JSON-able data; `content` of a secret `write` is never journaled or printed.
 */
import type { Connection, CommandResult } from '../transport/types.js';

export interface ExecStep {
  kind: 'exec';
  argv: string[];
  stdin?: string;
  cwd?: string;
  env?: Record<string, string>;
  /** Run on another inventory host (delegate_to, or a CA host). */
  host?: string;
  becomeUser?: string;
  /** Exit codes that count as success; default [0]. */
  okExit?: number[];
  /** Store stdout under this name for later steps (`contentFrom`) and the registered result. */
  capture?: string;
  /** Short human description for check output ("restart pemagent"). */
  label?: string;
}

export interface WriteStep {
  kind: 'write';
  path: string;
  /** Literal content, or the captured output of an earlier step. */
  content?: string;
  contentBase64?: string;
  contentFrom?: string;
  mode: number;
  owner?: string;
  group?: string;
  /** Never print or journal the content (private keys). */
  secret?: boolean;
  host?: string;
  label?: string;
}

/** Copy `path` to `to` on the same host, preserving mode/owner (cp -p). */
export interface BackupStep {
  kind: 'backup';
  path: string;
  to: string;
  host?: string;
  label?: string;
}

export interface MkdirStep {
  kind: 'mkdir';
  path: string;
  mode: number;
  owner?: string;
  group?: string;
  host?: string;
  label?: string;
}

export interface RemoveStep {
  kind: 'remove';
  path: string;
  recursive?: boolean;
  host?: string;
  label?: string;
}

export interface AttrsStep {
  kind: 'attrs';
  path: string;
  mode?: number;
  owner?: string;
  group?: string;
  host?: string;
  label?: string;
}

export interface RenameStep {
  kind: 'rename';
  from: string;
  to: string;
  host?: string;
  label?: string;
}

/** Check that a file is exactly as recorded (rollback's last word on each restored file). */
export interface VerifyStep {
  kind: 'verify';
  path: string;
  /** null: the file must not exist. */
  sha256: string | null;
  mode?: number;
  uid?: number;
  gid?: number;
  host?: string;
  label?: string;
}

/** What a `call` step gets: the host's full connection, others by name, and earlier captures. */
export interface StepApi {
  conn: Connection;
  connectionFor(host: string): Promise<Connection>;
  captures: Map<string, string>;
  signal: AbortSignal;
  /** Mark a value as secret so every output masks it. */
  addSecret(value: string): void;
}

/**
 * An escape hatch for steps that are not plain file/exec work (SQL, waiting for a port, signing
 * with a controller CA). Its `label` is what check mode shows; `run` only happens on apply.
 */
export interface CallStep {
  kind: 'call';
  label: string;
  run(api: StepApi): Promise<Record<string, unknown> | void>;
}

export type Step =
  | ExecStep
  | WriteStep
  | BackupStep
  | MkdirStep
  | RemoveStep
  | AttrsStep
  | RenameStep
  | VerifyStep
  | CallStep;

/** One line describing a step, for check output and the journal. Never includes secret content. */
export function describeStep(step: Step): string {
  if (step.label) return step.label;
  switch (step.kind) {
    case 'exec':
      return `run ${step.argv.join(' ')}${step.host ? ` on ${step.host}` : ''}`;
    case 'write':
      return `write ${step.path} (mode ${formatMode(step.mode)}${step.owner ? `, owner ${step.owner}` : ''})`;
    case 'backup':
      return `back up ${step.path} to ${step.to}`;
    case 'mkdir':
      return `create directory ${step.path} (mode ${formatMode(step.mode)})`;
    case 'remove':
      return `remove ${step.path}`;
    case 'attrs':
      return `set ${[
        step.mode !== undefined ? `mode ${formatMode(step.mode)}` : '',
        step.owner ? `owner ${step.owner}` : '',
        step.group ? `group ${step.group}` : '',
      ]
        .filter(Boolean)
        .join(', ')} on ${step.path}`;
    case 'rename':
      return `rename ${step.from} to ${step.to}`;
    case 'verify':
      return step.sha256 === null ? `verify ${step.path} is absent` : `verify ${step.path} checksum`;
    case 'call':
      return step.label;
  }
}

export function formatMode(mode: number): string {
  return `0${(mode & 0o7777).toString(8).padStart(3, '0')}`;
}

/** A CommandResult that failed, as a short explanation: exit code meaning and stderr tail. */
export function explainFailure(r: CommandResult): string {
  const tail = r.stderr.trim().split('\n').slice(-5).join('\n');
  const meaning =
    r.signal !== null
      ? `killed by signal ${r.signal}`
      : r.exitCode === 127
        ? 'exit 127: command not found'
        : r.exitCode === 126
          ? 'exit 126: command found but not executable (permission?)'
          : `exit ${r.exitCode}`;
  return tail ? `${meaning}: ${tail}` : meaning;
}
