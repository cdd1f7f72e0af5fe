/**
 * Connections for a run: one per host, opened on first use and shared by every task; a failed connect
 * is remembered for the run so a dead host fails fast. Rollback can ask for a fresh connection.
 */
import { connectionSpecFor } from '../inventory/connection.js';
import type { Inventory } from '../inventory/load.js';
import { connectLocal } from '../transport/local.js';
import { connectSsh } from '../transport/ssh.js';
import type { Connection, ConnectionSpec } from '../transport/types.js';
import type { Connector } from './context.js';

export interface ConnectorOptions {
  knownHostsFile: string;
  acceptUnknownHostKey: boolean;
  connectTimeoutMs: number;
  /** --known-hosts was given: it wins over the host var `fleetplay_known_hosts_file`. */
  knownHostsExplicit?: boolean;
}

const LOCALHOST: ConnectionSpec = {
  name: 'localhost',
  kind: 'local',
  address: '127.0.0.1',
  port: 0,
  user: process.env.USER ?? 'root',
  become: false,
  becomeUser: 'root',
  knownHostsFile: '',
  acceptUnknownHostKey: false,
  connectTimeoutMs: 10_000,
  keepaliveIntervalMs: 0,
};

export function specFor(inventory: Inventory, host: string, opts: ConnectorOptions): ConnectionSpec {
  const h = inventory.hosts.get(host);
  if (h === undefined) return { ...LOCALHOST, name: host };
  const hostFile = h.vars.fleetplay_known_hosts_file;
  const knownHostsFile = !opts.knownHostsExplicit && typeof hostFile === 'string' ? hostFile : opts.knownHostsFile;
  return connectionSpecFor(h, { ...opts, knownHostsFile });
}

export class RunConnector implements Connector {
  private readonly conns = new Map<string, Promise<Connection>>();

  constructor(
    private readonly inventory: Inventory,
    private readonly opts: ConnectorOptions,
  ) {}

  private open(host: string): Promise<Connection> {
    const spec = specFor(this.inventory, host, this.opts);
    // Connects are not cancelled by Ctrl-C: rollback and the steps in flight still need them.
    return spec.kind === 'local' ? Promise.resolve(connectLocal(spec)) : connectSsh(spec);
  }

  get(host: string): Promise<Connection> {
    let c = this.conns.get(host);
    if (c === undefined) {
      c = this.open(host);
      c.catch(() => undefined);
      this.conns.set(host, c);
    }
    return c;
  }

  async reconnect(host: string): Promise<Connection> {
    const old = this.conns.get(host);
    if (old) await old.then((c) => c.close()).catch(() => undefined);
    const c = this.open(host);
    c.catch(() => undefined);
    this.conns.set(host, c);
    return c;
  }

  async closeAll(): Promise<void> {
    const all = [...this.conns.values()];
    this.conns.clear();
    await Promise.all(all.map((p) => p.then((c) => c.close()).catch(() => undefined)));
  }
}
