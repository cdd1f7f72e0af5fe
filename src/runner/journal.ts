/**
 * The write-ahead journal of a run: JSON lines in `.fleetplay/runs/<id>/journal.jsonl`, each line
 * fsynced before the step it announces runs. Undo records are written before their steps apply, so a
 * run killed at any point can be rolled back from the journal alone. Lines are redacted before
 * they are written; a torn last line (killed mid-write) is ignored on read.
 */
import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, writeSync, existsSync, chmodSync } from 'node:fs';
import { join } from 'node:path';
import { JournalError } from '../errors.js';
import type { Redactor } from '../report/redact.js';
import type { UndoData } from '../tasks/types.js';

export type JournalRecord =
  | { t: 'run'; runId: string; at: string; playbook: string; check: boolean; resume?: boolean }
  | {
      t: 'undo';
      seq: number;
      /** The inventory host whose rollback includes this record. */
      host: string;
      /** The host the steps ran on (differs under delegate_to). */
      target: string;
      module: string;
      task: string;
      where: string;
      taskKey: string;
      undo: UndoData;
      at: string;
    }
  | { t: 'applied'; seq: number; host: string; at: string }
  | { t: 'apply-failed'; seq: number; host: string; error: string; at: string }
  | { t: 'undone'; seq: number; host: string; at: string }
  | { t: 'host'; host: string; state: string; at: string; error?: string }
  | { t: 'end'; at: string; success: boolean };

export class Journal {
  private fd: number;
  private nextSeq: number;

  private constructor(
    readonly path: string,
    fd: number,
    nextSeq: number,
    private readonly redactor: Redactor,
  ) {
    this.fd = fd;
    this.nextSeq = nextSeq;
  }

  /** Open (creating or appending) the journal in a run directory (mode 0700). */
  static open(runDir: string, redactor: Redactor): Journal {
    mkdirSync(runDir, { recursive: true, mode: 0o700 });
    chmodSync(runDir, 0o700);
    const path = join(runDir, 'journal.jsonl');
    const existing = existsSync(path) ? readJournal(path) : [];
    let seq = 0;
    for (const r of existing) if ('seq' in r && r.seq >= seq) seq = r.seq + 1;
    const fd = openSync(path, 'a', 0o600);
    return new Journal(path, fd, seq, redactor);
  }

  allocSeq(): number {
    return this.nextSeq++;
  }

  /**
   * Append one record, fsynced before returning. Throws JournalError if the disk refuses: the step
   * must not run. `applied` records are written without their own fsync: losing one only makes
   * rollback treat that record as interrupted, which it replays best-effort and then verifies; the
   * next undo record's fsync makes it durable anyway. This halves the fsyncs of a run.
   */
  append(record: JournalRecord): void {
    const line = this.redactor.redact(JSON.stringify(record)) + '\n';
    try {
      writeSync(this.fd, line);
      if (record.t !== 'applied') fsyncSync(this.fd);
    } catch (e) {
      throw new JournalError(`cannot write the journal ${this.path}: ${(e as Error).message}`, {
        cause: e,
        hint: 'free disk space on the controller or fix the permissions of .fleetplay/; nothing was changed by this step',
      });
    }
  }

  close(): void {
    if (this.fd >= 0) {
      closeSync(this.fd);
      this.fd = -1;
    }
  }
}

/** Read a journal; a torn final line (controller killed mid-write) is skipped, any other bad line is an error. */
export function readJournal(path: string): JournalRecord[] {
  const text = readFileSync(path, 'utf8');
  const lines = text.split('\n');
  const out: JournalRecord[] = [];
  lines.forEach((line, i) => {
    if (line.trim() === '') return;
    try {
      out.push(JSON.parse(line) as JournalRecord);
    } catch (e) {
      const isLast = i >= lines.length - 2;
      if (!isLast) throw new JournalError(`journal ${path} line ${i + 1} is corrupt`, { cause: e });
    }
  });
  return out;
}

/** Undo records of a host that still need undoing, newest first. */
export function pendingUndo(records: readonly JournalRecord[], host: string): Array<Extract<JournalRecord, { t: 'undo' }> & { applied: boolean }> {
  const undone = new Set<number>();
  const applied = new Set<number>();
  for (const r of records) {
    if (r.t === 'undone' && r.host === host) undone.add(r.seq);
    if (r.t === 'applied' && r.host === host) applied.add(r.seq);
  }
  return records
    .filter((r): r is Extract<JournalRecord, { t: 'undo' }> => r.t === 'undo' && r.host === host && !undone.has(r.seq))
    .map((r) => ({ ...r, applied: applied.has(r.seq) }))
    .reverse();
}

/** `host|taskKey` of every task instance applied and not undone (what `resume` must not redo). */
export function appliedTasks(records: readonly JournalRecord[]): Set<string> {
  const undo = new Map<number, { host: string; taskKey: string }>();
  const applied = new Set<number>();
  const undone = new Set<number>();
  for (const r of records) {
    if (r.t === 'undo') undo.set(r.seq, { host: r.host, taskKey: r.taskKey });
    else if (r.t === 'applied') applied.add(r.seq);
    else if (r.t === 'undone') undone.add(r.seq);
  }
  const out = new Set<string>();
  for (const [seq, u] of undo) if (applied.has(seq) && !undone.has(seq)) out.add(`${u.host}|${u.taskKey}`);
  return out;
}
