/**
 * The PEM backend database as a PEM installation leaves it: SSL on with the self-signed files in the
 * data directory (postgresql.conf ssl_* settings, root.crl included), client-certificate login for
 * agents (`hostssl pem +pem_agent ... cert`), and the `pem` database with the few tables and roles
 * the procedures read: pem.agent, pem.job (the CA-expiry renewal job), and the lab's heartbeat table.
 */
import { appendFile } from 'node:fs/promises';
import { join } from 'node:path';
import { makePemServerCerts } from './pem-ca.js';
import type { KeySpec } from './openssl.js';
import type { PgCluster } from './postgres.js';

/** What postgresql.conf gets (appended, so these lines win and sourceline points at them). */
export const PEM_SSL_CONF = [
  '',
  '# PEM server configuration (as configure-pem-server.sh sets it)',
  'ssl = on',
  "ssl_cert_file = 'server.crt'",
  "ssl_key_file = 'server.key'",
  "ssl_ca_file = 'root.crt'",
  "ssl_crl_file = 'root.crl'",
  '',
].join('\n');

export const PEM_HBA = [
  '',
  '# PEM: agents log in by client certificate, users by password',
  'hostssl pem +pem_agent 127.0.0.0/8 cert',
  'hostssl pem +pem_user 127.0.0.0/8 scram-sha-256',
  '',
].join('\n');

/** The configure hook for startPgCluster: makes the PEM certificate files and sets SSL + pg_hba. */
export function pemDbConfigure(opts: { key?: KeySpec } = {}): (dataDir: string) => Promise<void> {
  return async (dataDir) => {
    await makePemServerCerts({ dataDir, osUser: 'postgres', ...(opts.key ? { key: opts.key } : {}) });
    await appendFile(join(dataDir, 'postgresql.conf'), PEM_SSL_CONF);
    await appendFile(join(dataDir, 'pg_hba.conf'), PEM_HBA);
  };
}

export interface PemAgentRow {
  id: number;
  description: string;
  active?: boolean;
}

const SCHEMA = `
CREATE SCHEMA IF NOT EXISTS pem;
CREATE TABLE IF NOT EXISTS pem.agent (
  id int PRIMARY KEY,
  description text NOT NULL,
  active bool NOT NULL DEFAULT true
);
CREATE TABLE IF NOT EXISTS pem.agent_heartbeat (
  id bigserial PRIMARY KEY,
  agent_id int NOT NULL,
  at timestamptz NOT NULL DEFAULT now(),
  cert_fingerprint text,
  cert_issuer text,
  cert_subject text,
  db_user text NOT NULL DEFAULT current_user,
  client_addr inet DEFAULT inet_client_addr()
);
CREATE INDEX IF NOT EXISTS agent_heartbeat_agent_at ON pem.agent_heartbeat (agent_id, at DESC);
CREATE TABLE IF NOT EXISTS pem.job (
  jobid serial PRIMARY KEY,
  jobname text NOT NULL,
  jobenabled bool NOT NULL DEFAULT true,
  jobnextrun timestamptz
);
DO $$ BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'pem_agent') THEN CREATE ROLE pem_agent NOLOGIN; END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'pem_user') THEN CREATE ROLE pem_user NOLOGIN; END IF;
END $$;
GRANT USAGE ON SCHEMA pem TO pem_agent, pem_user;
GRANT SELECT ON pem.agent, pem.job TO pem_agent;
GRANT INSERT, SELECT ON pem.agent_heartbeat TO pem_agent;
GRANT USAGE ON SEQUENCE pem.agent_heartbeat_id_seq TO pem_agent;
GRANT SELECT ON ALL TABLES IN SCHEMA pem TO pem_user;
INSERT INTO pem.job (jobname, jobenabled, jobnextrun)
  SELECT 'Check CA certificate expiry', true, date_trunc('day', now()) + interval '1 day'
  WHERE NOT EXISTS (SELECT 1 FROM pem.job WHERE jobname = 'Check CA certificate expiry');
`;

/** After the first start: database pem, schema, roles and one login role per agent. Idempotent. */
export async function setupPemDatabase(cluster: PgCluster, agents: readonly PemAgentRow[]): Promise<void> {
  const exists = await cluster.query("SELECT 1 FROM pg_database WHERE datname = 'pem'");
  if (exists.length === 0) await cluster.query('CREATE DATABASE pem');
  await cluster.query(SCHEMA, undefined, 'pem');
  for (const a of agents) await addPemAgent(cluster, a);
}

/** Register an agent: its pem.agent row and a login role agent<ID> in pem_agent. Idempotent. */
export async function addPemAgent(cluster: PgCluster, a: PemAgentRow): Promise<void> {
  if (!Number.isInteger(a.id) || a.id <= 0) throw new Error(`bad agent id ${a.id}`);
  const role = `agent${a.id}`;
  await cluster.query(
    'INSERT INTO pem.agent (id, description, active) VALUES ($1, $2, $3) ON CONFLICT (id) DO UPDATE SET description = EXCLUDED.description, active = EXCLUDED.active',
    [a.id, a.description, a.active ?? true],
    'pem',
  );
  const r = await cluster.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [role], 'pem');
  // The role name is agent<integer>, checked above, so it is safe as an identifier.
  if (r.length === 0) await cluster.query(`CREATE ROLE ${role} LOGIN IN ROLE pem_agent`, undefined, 'pem');
}

/** The service commands for the DB (pg_ctl as the DB OS user), for fleetplay_service_commands. */
export function pemDbServiceCommands(cluster: Pick<PgCluster, 'dataDir' | 'logFile' | 'osUser'>): Record<string, string[]> {
  const pgCtl = ['runuser', '-u', cluster.osUser, '--', '/usr/lib/postgresql/15/bin/pg_ctl', '-D', cluster.dataDir];
  return {
    start: [...pgCtl, '-l', cluster.logFile, '-w', '-t', '60', 'start'],
    stop: [...pgCtl, '-m', 'fast', '-w', '-t', '60', 'stop'],
    restart: [...pgCtl, '-l', cluster.logFile, '-m', 'fast', '-w', '-t', '60', 'restart'],
    reload: [...pgCtl, 'reload'],
    status: [...pgCtl, 'status'],
  };
}
