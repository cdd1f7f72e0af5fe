/**
 * Typed run events: the runner emits them, reporters format them. A union on `kind`, one formatter
 * per kind in each reporter. Every string in an event has already been redacted.
 */
import type { FileDiff } from '../tasks/types.js';

export type HostTaskStatus = 'ok' | 'changed' | 'failed' | 'skipped' | 'unreachable' | 'waiting';
export type HostFinalState = 'ok' | 'changed' | 'failed' | 'unreachable' | 'rolled-back' | 'rollback-failed' | 'waiting' | 'stopped';

export interface HostTaskResult {
  host: string;
  play: string;
  task: string;
  /** `file:line:col` of the task in the playbook. */
  where: string;
  status: HostTaskStatus;
  reason?: string;
  /** Steps that would run / did run, described. */
  steps?: string[];
  diff?: FileDiff[];
  error?: string;
  durationMs: number;
  /** Loop item label, when the task loops. */
  item?: string;
}

export type RunEvent =
  | { kind: 'run-start'; runId: string; playbook: string; check: boolean; runDir: string }
  | { kind: 'play-start'; play: string; index: number; hosts: string[]; batch: number; batches: number }
  | { kind: 'task-start'; play: string; task: string; hosts: string[] }
  | { kind: 'host-task'; result: HostTaskResult }
  | { kind: 'task-end'; play: string; task: string }
  | { kind: 'rollback-start'; host: string; records: number; reason: string }
  | { kind: 'rollback-step'; host: string; step: string; ok: boolean; error?: string }
  | { kind: 'rollback-end'; host: string; ok: boolean; error?: string }
  | { kind: 'play-end'; play: string }
  | { kind: 'warning'; message: string; host?: string }
  | { kind: 'run-end'; summary: RunSummary };

export interface HostSummary {
  host: string;
  state: HostFinalState;
  ok: number;
  changed: number;
  failed: number;
  skipped: number;
  unreachable: number;
  rolledBack: number;
  /** The error that decided the host's state. */
  error?: string;
}

export interface RunSummary {
  runId: string;
  check: boolean;
  runDir: string;
  hosts: HostSummary[];
  results: HostTaskResult[];
  /** Overall: no host failed, unreachable or in an unknown state. */
  success: boolean;
  durationMs: number;
  aborted?: string;
}

export type EventSink = (e: RunEvent) => void;
