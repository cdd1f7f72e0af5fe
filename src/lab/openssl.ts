/**
 * The openssl CLI calls the lab makes, the way PEM's configure script and an operator would:
 * non-interactive (-subj, -batch), argv only, each with a tiny generated config in a 0700 temp dir
 * so the system openssl.cnf never adds or duplicates extensions.
 */
import { randomBytes } from 'node:crypto';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run } from './run.js';

export type KeyType = 'rsa' | 'ec';

export interface KeySpec {
  type: KeyType;
  /** RSA modulus size; default 2048 (PEM uses 4096; the lab trades that for speed). */
  bits?: number;
}

/** What a certificate is for: its basicConstraints/keyUsage/extendedKeyUsage. */
export type CertProfile = 'root-ca' | 'sub-ca' | 'server' | 'client';

export interface IssueOptions {
  caCert: string;
  caKey: string;
  keyFile: string;
  certFile: string;
  /** e.g. '/CN=agent2' or '/C=IN/O=PEM/CN=agent2'. */
  subject: string;
  profile: CertProfile;
  key?: KeySpec;
  days?: number;
  /** DNS names / IPs for subjectAltName (server certs). */
  san?: string[];
  /** Reuse an existing key at keyFile instead of making one. */
  reuseKey?: boolean;
}

function extensions(profile: CertProfile, key: KeySpec, san: readonly string[]): string {
  const usage = key.type === 'rsa' ? 'digitalSignature, keyEncipherment' : 'digitalSignature';
  const lines: string[] = ['subjectKeyIdentifier = hash'];
  switch (profile) {
    case 'root-ca':
      lines.push('basicConstraints = critical, CA:TRUE', 'keyUsage = critical, keyCertSign, cRLSign');
      break;
    case 'sub-ca':
      lines.push('basicConstraints = critical, CA:TRUE, pathlen:0', 'keyUsage = critical, keyCertSign, cRLSign');
      lines.push('authorityKeyIdentifier = keyid:always');
      break;
    case 'server':
      lines.push('basicConstraints = CA:FALSE', `keyUsage = critical, ${usage}`, 'extendedKeyUsage = serverAuth');
      lines.push('authorityKeyIdentifier = keyid:always');
      break;
    case 'client':
      lines.push('basicConstraints = CA:FALSE', `keyUsage = critical, ${usage}`, 'extendedKeyUsage = clientAuth');
      lines.push('authorityKeyIdentifier = keyid:always');
      break;
  }
  if (san.length > 0) {
    const names = san.map((n) => (/^[0-9.]+$|:/.test(n) ? `IP:${n}` : `DNS:${n}`));
    lines.push(`subjectAltName = ${names.join(', ')}`);
  }
  return lines.join('\n');
}

function configText(dir: string, ext: string): string {
  return [
    '[ req ]',
    'distinguished_name = dn',
    'prompt = no',
    '[ dn ]',
    'CN = unused',
    '[ lab_ext ]',
    ext,
    '[ ca ]',
    'default_ca = lab_ca',
    '[ lab_ca ]',
    `database = ${join(dir, 'index.txt')}`,
    `crlnumber = ${join(dir, 'crlnumber')}`,
    `new_certs_dir = ${dir}`,
    'default_md = sha256',
    'default_crl_days = 365',
    '',
  ].join('\n');
}

/** A temp 0700 dir with an openssl config for one operation; removed afterwards. */
async function withConfig<T>(ext: string, fn: (cfg: string, dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'fleetplay-lab-openssl-'));
  try {
    await chmod(dir, 0o700);
    const cfg = join(dir, 'openssl.cnf');
    await writeFile(cfg, configText(dir, ext), { mode: 0o600 });
    await writeFile(join(dir, 'index.txt'), '', { mode: 0o600 });
    await writeFile(join(dir, 'crlnumber'), '1000\n', { mode: 0o600 });
    return await fn(cfg, dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** A new private key at keyFile, mode 0600. */
export async function genKey(keyFile: string, key: KeySpec = { type: 'rsa' }): Promise<void> {
  const argv =
    key.type === 'rsa'
      ? ['openssl', 'genpkey', '-algorithm', 'RSA', '-pkeyopt', `rsa_keygen_bits:${key.bits ?? 2048}`, '-out', keyFile]
      : ['openssl', 'genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', keyFile];
  await run(argv, { what: `generate key ${keyFile}` });
  await chmod(keyFile, 0o600);
}

/** A random positive 128-bit serial, as openssl wants it. */
function serial(): string {
  const b = randomBytes(16);
  b[0] = (b[0] ?? 0) & 0x7f;
  return `0x${b.toString('hex')}`;
}

/** A self-signed CA: key + certificate. */
export async function selfSignedCa(opts: { keyFile: string; certFile: string; subject: string; key?: KeySpec; days?: number }): Promise<void> {
  await selfSigned({ ...opts, profile: 'root-ca' });
}

/** A self-signed certificate with a new key (a CA, or a server cert like httpd's default one). */
export async function selfSigned(opts: {
  keyFile: string;
  certFile: string;
  subject: string;
  profile: CertProfile;
  key?: KeySpec;
  days?: number;
  san?: string[];
}): Promise<void> {
  const key = opts.key ?? { type: 'rsa' };
  await genKey(opts.keyFile, key);
  await withConfig(extensions(opts.profile, key, opts.san ?? []), async (cfg) => {
    await run(
      ['openssl', 'req', '-new', '-x509', '-config', cfg, '-extensions', 'lab_ext', '-key', opts.keyFile, '-subj', opts.subject,
        '-days', String(opts.days ?? 3650), '-sha256', '-set_serial', serial(), '-out', opts.certFile],
      { what: `self-sign ${opts.subject}` },
    );
  });
  await chmod(opts.certFile, 0o644);
}

/** Key (unless reused) + CSR + certificate signed by the given CA. The CSR is not kept. */
export async function issueCert(opts: IssueOptions): Promise<void> {
  const key = opts.key ?? { type: 'rsa' };
  if (opts.reuseKey !== true) await genKey(opts.keyFile, key);
  await withConfig(extensions(opts.profile, key, opts.san ?? []), async (cfg, dir) => {
    const csr = join(dir, 'req.csr');
    await run(['openssl', 'req', '-new', '-config', cfg, '-key', opts.keyFile, '-subj', opts.subject, '-out', csr], {
      what: `make CSR for ${opts.subject}`,
    });
    await run(
      ['openssl', 'x509', '-req', '-in', csr, '-CA', opts.caCert, '-CAkey', opts.caKey, '-set_serial', serial(),
        '-days', String(opts.days ?? 825), '-sha256', '-extfile', cfg, '-extensions', 'lab_ext', '-out', opts.certFile],
      { what: `sign ${opts.subject}` },
    );
  });
  await chmod(opts.certFile, 0o644);
}

/** A CRL from the CA (optionally revoking some of its certificates), written to crlFile. */
export async function makeCrl(opts: { caCert: string; caKey: string; crlFile: string; days?: number; revoke?: string[] }): Promise<void> {
  await withConfig('basicConstraints = CA:FALSE', async (cfg) => {
    for (const cert of opts.revoke ?? []) {
      await run(['openssl', 'ca', '-batch', '-config', cfg, '-keyfile', opts.caKey, '-cert', opts.caCert, '-revoke', cert], {
        what: `revoke ${cert}`,
      });
    }
    await run(
      ['openssl', 'ca', '-batch', '-config', cfg, '-gencrl', '-keyfile', opts.caKey, '-cert', opts.caCert,
        '-crldays', String(opts.days ?? 365), '-out', opts.crlFile],
      { what: `make CRL for ${opts.caCert}` },
    );
  });
  await chmod(opts.crlFile, 0o644);
}
