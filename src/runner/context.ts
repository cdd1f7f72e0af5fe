/**
 * The state of one run shared by the scheduler, the per-host executor and rollback: options, the
 * journal, the redactor, connections, and each host's progress.
 */
import type { Inventory, InventoryHost } from '../inventory/load.js';
import type { Redactor } from '../report/redact.js';
import type { Connection } from '../transport/types.js';
import type { EventSink, HostFinalState, HostTaskResult } from './events.js';
import type { Journal } from './journal.js';
import type { HostLocks } from './lock.js';

export interface RunOptions {
  check: boolean;
  diff: boolean;
  forks: number;
  limit?: string;
  tags: string[];
  skipTags: string[];
  extraVars: Record<string, unknown>;
  /** Answer yes to `pause` gates. */
  yes: boolean;
  /** Ask before a pause gate; absent: a gate without --yes stops the run. */
  confirm?: (prompt: string) => Promise<boolean>;
  /** Take over a host's run lock that is stale (its run ended or its controller is gone). */
  breakStaleLocks?: boolean;
}

/** Opens connections; one per host for the whole run. */
export interface Connector {
  get(host: string): Promise<Connection>;
  /** A new connection, replacing a dead one (used by rollback after a connection loss). */
  reconnect(host: string): Promise<Connection>;
  closeAll(): Promise<void>;
}

export interface HostState {
  name: string;
  inv: InventoryHost;
  registered: Record<string, unknown>;
  facts: Record<string, unknown>;
  /** Terminal or current state; undefined while healthy. */
  state?: HostFinalState;
  error?: string;
  notified: Set<string>;
  /** True once any step was applied on (or for) this host in this run. */
  touched: boolean;
  /** Another run holds this host's lock: this run changed nothing here and must not roll it back. */
  lockedOut?: boolean;
}

export interface RunContext {
  runId: string;
  /** Directory of the playbook file: relative controller paths (copy src) resolve against it. */
  playbookDir: string;
  runDir: string;
  opts: RunOptions;
  inventory: Inventory;
  hosts: Map<string, HostState>;
  journal: Journal;
  redactor: Redactor;
  connector: Connector;
  emit: EventSink;
  signal: AbortSignal;
  results: HostTaskResult[];
  /**
   * On resume: `host|taskKey` of the task instances an earlier attempt of this run applied (and did
   * not undo). They are not planned again: a resumed run continues where each host stopped.
   */
  resumeDone: ReadonlySet<string>;
  /** Set when the run stops starting new work (policy stop, threshold breach, Ctrl-C). */
  aborted?: string;
  /** Per-host run locks (absent in check mode): taken before a host's first change. */
  locks?: HostLocks;
}
