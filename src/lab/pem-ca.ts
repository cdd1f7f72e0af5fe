/**
 * PEM's own self-signed material, as the PEM server configure script leaves it in the backend
 * database's data directory: ca_key.key + ca_certificate.crt (CN=PEM, CA:TRUE), root.crt (a copy),
 * root.crl (a CRL from that CA), server.key + server.crt (CN=PEM, signed by the CA), all owned by
 * the DB OS user, mode 0600. Agent certificates agent<ID>.crt/.key are signed by the same CA.
 */
import { copyFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { issueCert, makeCrl, selfSignedCa } from './openssl.js';
import type { KeySpec } from './openssl.js';
import { own, userIds } from './run.js';

/** The PEM server's certificate files, all in the data directory. */
export interface PemCaFiles {
  caKey: string;
  caCert: string;
  rootCrt: string;
  rootCrl: string;
  serverKey: string;
  serverCrt: string;
}

export function pemCaFiles(dataDir: string): PemCaFiles {
  return {
    caKey: join(dataDir, 'ca_key.key'),
    caCert: join(dataDir, 'ca_certificate.crt'),
    rootCrt: join(dataDir, 'root.crt'),
    rootCrl: join(dataDir, 'root.crl'),
    serverKey: join(dataDir, 'server.key'),
    serverCrt: join(dataDir, 'server.crt'),
  };
}

export interface PemCaOptions {
  dataDir: string;
  /** The DB OS user that owns the files (enterprisedb in EPAS; postgres in the lab). */
  osUser?: string;
  key?: KeySpec;
  caDays?: number;
  serverDays?: number;
  /** Subject of the CA and of server.crt; PEM's configure script uses CN=PEM for both. */
  caSubject?: string;
  serverSubject?: string;
}

/** Make the CA, root.crt, root.crl and the server pair in the data directory. */
export async function makePemServerCerts(opts: PemCaOptions): Promise<PemCaFiles> {
  const f = pemCaFiles(opts.dataDir);
  const key = opts.key ?? { type: 'rsa' };
  await selfSignedCa({ keyFile: f.caKey, certFile: f.caCert, subject: opts.caSubject ?? '/CN=PEM', key, days: opts.caDays ?? 3650 });
  await copyFile(f.caCert, f.rootCrt);
  await makeCrl({ caCert: f.caCert, caKey: f.caKey, crlFile: f.rootCrl, days: 365 });
  await issueCert({
    caCert: f.caCert,
    caKey: f.caKey,
    keyFile: f.serverKey,
    certFile: f.serverCrt,
    subject: opts.serverSubject ?? '/CN=PEM',
    profile: 'server',
    key,
    days: opts.serverDays ?? 3650,
  });
  await own(Object.values(f), await userIds(opts.osUser ?? 'postgres'), 0o600);
  return f;
}

export interface AgentCertOptions {
  /** The PEM CA (or any CA) that signs. */
  caCert: string;
  caKey: string;
  agentId: number;
  /** Where agent<ID>.crt/.key go (an agent host's /root/.pem). Created 0700 if missing. */
  dir: string;
  /** CN; default agent<ID>. */
  cn?: string;
  /** File base name; default agent<ID>. */
  baseName?: string;
  key?: KeySpec;
  days?: number;
  /** Owner of the files; default root. */
  owner?: string;
}

/** agent<ID>.key + agent<ID>.crt (CN=agent<ID>) signed by the CA, owner root, mode 0600. */
export async function issueAgentCert(opts: AgentCertOptions): Promise<{ certFile: string; keyFile: string }> {
  const base = opts.baseName ?? `agent${opts.agentId}`;
  await mkdir(opts.dir, { recursive: true, mode: 0o700 });
  const certFile = join(opts.dir, `${base}.crt`);
  const keyFile = join(opts.dir, `${base}.key`);
  await issueCert({
    caCert: opts.caCert,
    caKey: opts.caKey,
    keyFile,
    certFile,
    subject: `/CN=${opts.cn ?? `agent${opts.agentId}`}`,
    profile: 'client',
    key: opts.key ?? { type: 'rsa' },
    days: opts.days ?? 365,
  });
  await own([certFile, keyFile], await userIds(opts.owner ?? 'root'), 0o600);
  return { certFile, keyFile };
}
