/**
 * sql: run one SQL statement against a PostgreSQL database, directly from the controller or
 * through the host's SSH tunnel.
 *
 * Read-only statements (declared `read_only: true`, or a SELECT/WITH/SHOW/EXPLAIN/VALUES/TABLE that
 * succeeds inside BEGIN READ ONLY) run during plan, in check mode too, and register their rows; they
 * never change anything. Anything else is a step that runs only on apply. Idempotence comes from
 * `creates_if`: a read-only probe; when it returns a row nothing changes (with that reason). Rollback
 * runs the declared `undo` statement, recorded only when this run would make the change.
 */
import { z } from 'zod';
import { TaskError } from '../errors.js';
import type { StepApi } from './steps.js';
import type { Step } from './steps.js';
import { defineTask } from './types.js';
import type { Plan, TaskContext, UndoData } from './types.js';
import {
  PgConnectError,
  READ_ONLY_VIOLATION,
  SSL_MODES,
  describeTarget,
  pgCode,
  readOnlyQuery,
  tcpReachable,
  withPg,
} from './lib/pg.js';
import type { PgAccess, PgTarget } from './lib/pg.js';

const portArg = z.union([z.number().int().min(1).max(65535), z.string().regex(/^\d{1,5}$/).transform(Number)]);
const paramsArg = z.array(z.union([z.string(), z.number(), z.boolean(), z.null()])).default([]);
const statementArg = z.object({ query: z.string().min(1), params: paramsArg }).strict();

export const connArgs = z
  .object({
    /** The database host as seen from the target host (tunnel) or the controller (direct). */
    host: z.string().min(1).optional(),
    port: portArg.default(5432),
    user: z.string().min(1).default('postgres'),
    /** Name of the controller environment variable holding the password (never the password). */
    password_env: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, { error: 'password_env is the NAME of an environment variable' }).optional(),
    sslmode: z.enum(SSL_MODES).default('prefer'),
    /** Paths on the target host; read into memory, never copied to the controller's disk. */
    sslrootcert: z.string().min(1).optional(),
    sslcert: z.string().min(1).optional(),
    sslkey: z.string().min(1).optional(),
    tunnel: z.boolean().optional(),
  })
  .strict();

export const sqlArgs = z
  .object({
    query: z.string().min(1),
    params: paramsArg,
    db: z.string().min(1).default('pem'),
    conn: connArgs.prefault({}),
    /** true: the statement only reads (it runs in check mode); false: never run it during plan. */
    read_only: z.boolean().optional(),
    undo: statementArg.optional(),
    creates_if: statementArg.optional(),
  })
  .strict();

export type SqlArgs = z.infer<typeof sqlArgs>;
export type ConnArgs = z.infer<typeof connArgs>;

/** What the journal keeps to reconnect at rollback: no password, only the variable's name. */
interface SqlUndo {
  query: string;
  params: (string | number | boolean | null)[];
  target: Omit<PgTarget, 'password'>;
  password_env?: string;
}

const READ_ONLY_LEAD = /^\s*(?:--[^\n]*\n\s*)*(select|with|show|explain|values|table)\b/i;

/**
 * Functions that act even inside a READ ONLY transaction (signals, reloads, WAL, files, other
 * databases); a SELECT calling one is treated as mutating unless declared `read_only: true`.
 */
const SIDE_EFFECTS = /\b(pg_reload_conf|pg_terminate_backend|pg_cancel_backend|pg_rotate_logfile|pg_switch_wal|pg_create_restore_point|pg_promote|pg_log_backend_memory_contexts|pg_file_\w+|pg_start_backup|pg_stop_backup|pg_backup_\w+|pg_notify|dblink\w*|lo_\w+|pg_advisory\w*|set_config|pg_sleep\w*)\s*\(/i;

/** Whether a statement looks like a query (it is still verified inside BEGIN READ ONLY). */
export function looksReadOnly(query: string): boolean {
  return READ_ONLY_LEAD.test(query) && !SIDE_EFFECTS.test(query);
}

function passwordFrom(envName: string | undefined, host: string, task: string): string | undefined {
  if (envName === undefined) return undefined;
  const v = process.env[envName];
  if (v === undefined) {
    throw new TaskError(`environment variable ${envName} (password_env) is not set`, {
      host,
      task,
      hint: `export ${envName} on the controller before running`,
    });
  }
  return v;
}

/** Resolve host and tunnel: with no host, the database is on the target host itself (tunnel to 127.0.0.1). */
export async function resolveTarget(
  conn: ConnArgs,
  db: string,
  haveTunnel: boolean,
  reachable: (host: string, port: number) => Promise<boolean> = tcpReachable,
): Promise<Omit<PgTarget, 'password'>> {
  const host = conn.host ?? '127.0.0.1';
  let tunnel: boolean;
  if (conn.tunnel !== undefined) tunnel = conn.tunnel;
  else if (conn.host === undefined) tunnel = haveTunnel;
  else tunnel = haveTunnel && !(await reachable(host, conn.port));
  const t: Omit<PgTarget, 'password'> = { host, port: conn.port, database: db, user: conn.user, sslmode: conn.sslmode, tunnel };
  if (conn.sslrootcert !== undefined) t.sslrootcert = conn.sslrootcert;
  if (conn.sslcert !== undefined) t.sslcert = conn.sslcert;
  if (conn.sslkey !== undefined) t.sslkey = conn.sslkey;
  return t;
}

function firstLine(q: string): string {
  const line = q.trim().split('\n')[0] ?? '';
  return line.length > 80 ? `${line.slice(0, 77)}...` : line;
}

function connectFailure(e: unknown, host: string, task: string): never {
  if (e instanceof PgConnectError) throw new TaskError(e.message, { host, task, hint: e.hint, cause: e });
  throw e;
}

function stepAccess(api: StepApi): PgAccess {
  return {
    readFile: (p) => api.conn.readFile(p),
    openTcp: (h, p) => api.conn.forwardTcp(h, p),
    addSecret: (v) => api.addSecret(v),
  };
}

/** A step that runs one statement on apply (or rollback), reconnecting from recorded data alone. */
export function sqlCallStep(label: string, u: SqlUndo, hostName: string, task: string): Step {
  return {
    kind: 'call',
    label,
    async run(api) {
      const target: PgTarget = { ...u.target, password: passwordFrom(u.password_env, hostName, task) };
      try {
        return await withPg(target, stepAccess(api), async (c) => {
          const r = await c.query(u.query, u.params);
          return { rows: r.rows as unknown[], row_count: r.rowCount ?? 0 };
        });
      } catch (e) {
        if (e instanceof PgConnectError) connectFailure(e, hostName, task);
        throw new TaskError(`${firstLine(u.query)}: ${(e as Error).message}`, {
          host: hostName,
          task,
          hint: pgCode(e) ? `PostgreSQL error ${pgCode(e)}` : undefined,
          cause: e,
        });
      }
    },
  };
}

async function planSql(ctx: TaskContext<SqlArgs>): Promise<Plan> {
  const a = ctx.args;
  const hostName = ctx.host.name;
  const task = 'sql';
  const password = passwordFrom(a.conn.password_env, hostName, task);
  if (password !== undefined && password !== '') ctx.addSecret(password);
  const base = await resolveTarget(a.conn, a.db, ctx.openTcp !== undefined);
  const target: PgTarget = { ...base, password };
  const access: PgAccess = {
    readFile: (p) => ctx.probe.readFile(p),
    addSecret: (v) => ctx.addSecret(v),
    ...(ctx.openTcp ? { openTcp: (h: string, p: number) => ctx.openTcp!(h, p) } : {}),
  };
  const tryReadOnly = a.read_only === true || (a.read_only === undefined && looksReadOnly(a.query));

  let plan: Plan;
  try {
    plan = await withPg(target, access, async (c): Promise<Plan> => {
      if (a.creates_if) {
        const rows = await readOnlyQuery(c, a.creates_if.query, a.creates_if.params);
        if (rows.length > 0) {
          return { changed: false, reason: `creates_if found ${rows.length} row(s): ${firstLine(a.creates_if.query)}`, steps: [], result: { rows: [], row_count: 0 } };
        }
      }
      if (tryReadOnly) {
        try {
          const rows = await readOnlyQuery(c, a.query, a.params);
          return { changed: false, reason: `read-only query returned ${rows.length} row(s)`, steps: [], result: { rows, row_count: rows.length } };
        } catch (e) {
          if (pgCode(e) !== READ_ONLY_VIOLATION) {
            return { changed: false, steps: [], failed: `${firstLine(a.query)}: ${(e as Error).message}` };
          }
          if (a.read_only === true) {
            return { changed: false, steps: [], failed: `declared read_only, but PostgreSQL refused it in a read-only transaction: ${(e as Error).message}` };
          }
        }
      }
      return { changed: true, steps: [] };
    });
  } catch (e) {
    connectFailure(e, hostName, task);
  }
  if (!plan.changed) return plan;

  const u: SqlUndo = { query: a.query, params: a.params, target: base, ...(a.conn.password_env ? { password_env: a.conn.password_env } : {}) };
  const label = `sql on ${describeTarget(target)}: ${firstLine(a.query)}`;
  const undo: UndoData | undefined = a.undo
    ? ({ query: a.undo.query, params: a.undo.params, target: base, ...(a.conn.password_env ? { password_env: a.conn.password_env } : {}) } satisfies SqlUndo)
    : undefined;
  return {
    changed: true,
    reason: `would run: ${firstLine(a.query)}`,
    steps: [sqlCallStep(label, u, hostName, task)],
    ...(undo ? { undo } : {}),
  };
}

export const sqlTask = defineTask({
  name: 'sql',
  args: sqlArgs,
  plan: planSql,
  rollback(undo, ctx) {
    const u = undo as unknown as SqlUndo;
    if (typeof u.query !== 'string' || typeof u.target !== 'object' || u.target === null) return [];
    return [sqlCallStep(`sql undo on ${describeTarget({ ...u.target })}: ${firstLine(u.query)}`, u, ctx.host.name, 'sql')];
  },
});
