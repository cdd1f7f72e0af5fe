/**
 * One Connection per host for the whole run. Concurrent callers for the same host share the pending
 * connect; a failed connect is remembered as failed for the run (every later task on that host gets
 * the same error at once instead of waiting for another timeout).
 */
import { ConnectionError } from '../errors.js';
import { connectLocal } from './local.js';
import { connectSsh } from './ssh.js';
import type { Connection, ConnectionSpec } from './types.js';

export class ConnectionPool {
  private readonly conns = new Map<string, Promise<Connection>>();
  private readonly signal: AbortSignal | undefined;
  private closed = false;

  constructor(opts: { signal?: AbortSignal } = {}) {
    this.signal = opts.signal;
  }

  get(spec: ConnectionSpec): Promise<Connection> {
    if (this.closed) return Promise.reject(new ConnectionError(`the connection pool is closed; cannot connect to ${spec.name}`, { host: spec.name }));
    let p = this.conns.get(spec.name);
    if (p === undefined) {
      p = spec.kind === 'local' ? Promise.resolve(connectLocal(spec)) : connectSsh(spec, this.signal === undefined ? {} : { signal: this.signal });
      // Keep the rejection for later callers but never let it go unhandled here.
      p.catch(() => undefined);
      this.conns.set(spec.name, p);
    }
    return p;
  }

  /** Close every connection that was opened; failed ones are skipped. */
  async closeAll(): Promise<void> {
    this.closed = true;
    const all = [...this.conns.values()];
    this.conns.clear();
    await Promise.all(all.map(async (p) => (await p.catch(() => null))?.close().catch(() => undefined)));
  }
}
