/**
 * Remote openssl for the certificate modules: argv builders and read-only probes. A private key is
 * only ever read by openssl on its own host; what comes back to the controller is public (the
 * `pkey -pubout` output, certificates, CSRs). Commands that create secrets run under `umask 077`
 * through a constant `sh -c` script whose user values are positional arguments, never pasted in.
 */
import { posix } from 'node:path';
import type { KeyObject } from 'node:crypto';
import type { Probe } from '../../transport/types.js';
import { describeKey, parsePublicKey } from '../../pki/keys.js';
import type { KeyDescription } from '../../pki/keys.js';
import { formatSan } from '../../pki/csr.js';
import type { San } from '../../pki/csr.js';
import type { Usage } from '../../pki/sign.js';
import { explainFailure } from '../steps.js';

/** Run argv under a umask (default 077: files it creates are 0600 from the first byte). */
export function underUmask(argv: readonly string[], umask = '077'): string[] {
  if (!/^0?[0-7]{3}$/.test(umask)) throw new Error(`invalid umask ${umask}`);
  return ['sh', '-c', `umask ${umask} && exec "$@"`, 'sh', ...argv];
}

/** A temp file in the same directory as `path` (so the final rename is atomic). */
export function tempPathFor(path: string, runId: string, taskKey: string): string {
  return posix.join(posix.dirname(path), `.${posix.basename(path)}.fleetplay-${runId}-${taskKey}.tmp`);
}

export type KeyAlgo = { type: 'rsa'; size: number } | { type: 'ec'; curve: string };

/** `openssl genpkey` for a key written to `out`. */
export function genpkeyArgv(algo: KeyAlgo, out: string): string[] {
  return algo.type === 'rsa'
    ? ['openssl', 'genpkey', '-algorithm', 'RSA', '-pkeyopt', `rsa_keygen_bits:${algo.size}`, '-out', out]
    : ['openssl', 'genpkey', '-algorithm', 'EC', '-pkeyopt', `ec_paramgen_curve:${algo.curve}`, '-pkeyopt', 'ec_param_enc:named_curve', '-out', out];
}

export type RemoteKey = { ok: true; key: KeyObject; pem: string; desc: KeyDescription } | { ok: false; error: string };

/** The public half of a private key on the host, via its openssl (the private key stays there). */
export async function remotePublicKey(probe: Probe, path: string): Promise<RemoteKey> {
  const r = await probe.exec(['openssl', 'pkey', '-in', path, '-pubout', '-passin', 'pass:']);
  if (r.exitCode !== 0) {
    // openssl's wording for an encrypted key varies by version and format ("bad decrypt", or just
    // "No supported data to decode"); the PEM header says it plainly, and only grep's verdict
    // comes back, never the key.
    const header = await probe.exec(['grep', '-q', '-e', 'ENCRYPTED', '--', path]);
    const encrypted = header.exitCode === 0 || /bad decrypt|maybe wrong password|encrypted|pass phrase/i.test(r.stderr);
    return { ok: false, error: encrypted ? `${path} is encrypted (a passphrase is needed)` : `openssl cannot read ${path}: ${explainFailure(r)}` };
  }
  try {
    const key = parsePublicKey(r.stdout);
    return { ok: true, key, pem: r.stdout, desc: describeKey(key) };
  } catch {
    return { ok: false, error: `openssl pkey -pubout gave no public key for ${path}` };
  }
}

/** A remote text file, or null when it does not exist. */
export async function readText(probe: Probe, path: string): Promise<string | null> {
  const b = await probe.readFile(path);
  return b === null ? null : b.toString('utf8');
}

/** The x509v3 extension section for a leaf certificate signed by openssl on a CA host. */
export function leafExtfile(usage: Usage, sans: readonly San[], rsa: boolean): string {
  const eku = usage === 'client' ? 'clientAuth' : usage === 'server' ? 'serverAuth' : 'serverAuth,clientAuth';
  const lines = [
    '[v3]',
    'basicConstraints=critical,CA:FALSE',
    `keyUsage=critical,${rsa ? 'digitalSignature,keyEncipherment' : 'digitalSignature'}`,
    `extendedKeyUsage=${eku}`,
    'subjectKeyIdentifier=hash',
    'authorityKeyIdentifier=keyid',
  ];
  if (sans.length > 0) lines.push(`subjectAltName=${sans.map(formatSan).join(',')}`);
  return `${lines.join('\n')}\n`;
}

/**
 * Sign a CSR (on stdin) with a CA on its host: the extension file goes to a private temp file, the
 * certificate comes out on stdout (followed by the CA certificate when `appendCa`).
 */
export const SIGN_SCRIPT =
  'set -e; f=$(mktemp); trap \'rm -f "$f"\' EXIT; printf "%s" "$5" > "$f"; ' +
  'openssl x509 -req -sha256 -days "$3" -CA "$1" -CAkey "$2" -set_serial "$4" -extfile "$f" -extensions v3 -passin pass:; ' +
  'if [ "$6" = yes ]; then cat -- "$1"; fi';

export function signOnHostArgv(o: { caCert: string; caKey: string; days: number; serialHex: string; extfile: string; appendCa: boolean }): string[] {
  return ['sh', '-c', SIGN_SCRIPT, 'sh', o.caCert, o.caKey, String(o.days), `0x${o.serialHex}`, o.extfile, o.appendCa ? 'yes' : 'no'];
}
