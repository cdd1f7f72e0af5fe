/**
 * Certificate revocation lists: parse them (several in one PEM file, as root.crl may hold), create
 * or refresh one for a CA the controller holds, and `postgresWouldAccept`, which decides what a
 * PostgreSQL server with ssl_ca_file + ssl_crl_file decides for a client certificate: OpenSSL with
 * X509_V_FLAG_CRL_CHECK|CRL_CHECK_ALL, where every certificate of the chain, the self-signed root
 * included, needs a current CRL from its issuer. A missing CRL shows the client "unknown ca".
 */
import type { X509Crl } from '@peculiar/x509';
import { TaskError } from '../errors.js';
import { signingKey } from './keys.js';
import { OPENSSL_CODE, buildChain, checkExtensions, checkSignaturesAndTimes } from './chain.js';
import type { CertSource, ChainError } from './chain.js';
import type { CertInfo } from './inspect.js';
import { commonName, formatSlash, fromX509Name, namesEqual } from './names.js';
import type { Rdn } from './names.js';
import { isPem, splitPem, toPem } from './pem.js';
import { loadCert } from './sign.js';
import type { CaMaterial } from './sign.js';
import { x509 } from './x509.js';

const DAY_MS = 86_400_000;

export interface RevokedEntry {
  /** Uppercase hex without leading zero bytes (as `openssl x509 -serial`). */
  serial: string;
  date: Date;
}

export interface CrlInfo {
  issuer: string;
  issuerRdns: Rdn[];
  issuerCn: string | undefined;
  thisUpdate: Date;
  nextUpdate: Date | undefined;
  revoked: RevokedEntry[];
  /** Authority key identifier (lowercase hex), when the CRL carries one. */
  aki: string | undefined;
  der: Buffer;
  pem: string;
}

/** Normalize a hex serial for comparison. */
export function normalizeSerial(hex: string): string {
  const h = hex.replace(/[^0-9a-fA-F]/g, '').toUpperCase().replace(/^0+(?=.)/, '');
  return h.length % 2 === 1 ? `0${h}` : h;
}

function crlFromDer(der: Buffer): CrlInfo {
  let crl: X509Crl;
  try {
    crl = new x509.X509Crl(new Uint8Array(der));
  } catch (e) {
    throw new TaskError('the CRL cannot be decoded', { hint: 'check that the file is an X.509 CRL (BEGIN X509 CRL)', cause: e });
  }
  const rdns = fromX509Name(crl.issuerName);
  const akiExt = crl.getExtension('2.5.29.35');
  return {
    aki: akiExt ? new x509.AuthorityKeyIdentifierExtension(akiExt.rawData).keyId?.toLowerCase() : undefined,
    issuer: formatSlash(rdns),
    issuerRdns: rdns,
    issuerCn: commonName(rdns),
    thisUpdate: crl.thisUpdate,
    nextUpdate: crl.nextUpdate,
    revoked: crl.entries.map((e) => ({ serial: normalizeSerial(e.serialNumber), date: e.revocationDate })),
    der,
    pem: toPem('X509 CRL', der),
  };
}

/** Every CRL in a PEM file (or one DER CRL), in file order. */
export function parseCrls(input: string | Buffer): CrlInfo[] {
  if (!isPem(input)) return [crlFromDer(Buffer.isBuffer(input) ? input : Buffer.from(input, 'latin1'))];
  return splitPem(input)
    .filter((b) => b.label === 'X509 CRL' || b.label === 'CRL')
    .map((b) => crlFromDer(b.der));
}

/** Whether a CRL's signature verifies with a certificate's public key. */
export async function crlSignedBy(crl: CrlInfo, issuer: CertInfo): Promise<boolean> {
  try {
    // pass the PublicKey, not the certificate: with a certificate, peculiar mixes in the
    // certificate's own signature algorithm (an EC CA signed by an RSA root would never verify)
    return await new x509.X509Crl(new Uint8Array(crl.der)).verify({ publicKey: new x509.X509Certificate(new Uint8Array(issuer.der)).publicKey });
  } catch {
    return false;
  }
}

function derInteger(hex: string): Uint8Array<ArrayBuffer> {
  let h = normalizeSerial(hex);
  if (parseInt(h.slice(0, 2), 16) >= 0x80) h = `00${h}`;
  const body = Buffer.from(h, 'hex');
  return Uint8Array.from(Buffer.concat([Buffer.from([0x02, body.length]), body]));
}

export interface CreateCrlOptions {
  ca: CaMaterial;
  days: number;
  revoked?: readonly { serial: string; date?: Date }[];
  now?: Date;
  /** Explicit dates (tests: expired CRLs). */
  thisUpdate?: Date;
  nextUpdate?: Date;
}

/** Create (or refresh: same CA, new dates, the revoked list carried by the caller) a CRL, PEM. */
export async function createCrl(opts: CreateCrlOptions): Promise<string> {
  const caCert = loadCert(opts.ca.certPem);
  const { key, algorithm } = await signingKey(opts.ca.key);
  const now = opts.now ?? new Date();
  const thisUpdate = opts.thisUpdate ?? new Date(now.getTime() - 60_000);
  const nextUpdate = opts.nextUpdate ?? new Date(now.getTime() + opts.days * DAY_MS);
  const skiExt = caCert.getExtension('2.5.29.14');
  const keyId = skiExt
    ? new x509.SubjectKeyIdentifierExtension(skiExt.rawData).keyId
    : (await x509.SubjectKeyIdentifierExtension.create(caCert.publicKey)).keyId;
  const crlNumber = Math.floor(now.getTime() / 1000).toString(16);
  const crl = await x509.X509CrlGenerator.create({
    issuer: caCert.subjectName,
    thisUpdate,
    nextUpdate,
    signingKey: key,
    signingAlgorithm: algorithm,
    extensions: [new x509.AuthorityKeyIdentifierExtension(keyId), new x509.Extension('2.5.29.20', false, derInteger(crlNumber))],
    entries: (opts.revoked ?? []).map((r) => ({ serialNumber: normalizeSerial(r.serial), revocationDate: r.date ?? now })),
  });
  // peculiar labels it 'CRL'; openssl and PostgreSQL read only 'X509 CRL'
  return toPem('X509 CRL', crl.rawData);
}

/** The TLS alert the client sees when the server refuses its certificate. */
export type TlsAlert = 'unknown ca' | 'certificate expired' | 'certificate revoked' | 'bad certificate' | 'decrypt error' | 'unsupported certificate';

export type CrlError = 'unable to get CRL' | 'CRL expired' | 'CRL not yet valid' | 'CRL signature' | 'revoked';

export type PgVerdict =
  | { ok: true; chain: string[] }
  | { ok: false; error: TlsAlert; reason: ChainError | CrlError; detail: string; chain: string[]; depth: number; opensslCode: number | undefined };

const ALERT: Record<ChainError | CrlError, TlsAlert> = {
  'unable to get issuer': 'unknown ca',
  'self-signed certificate': 'unknown ca',
  'self-signed certificate in chain': 'unknown ca',
  'invalid CA': 'unknown ca',
  'unable to get CRL': 'unknown ca',
  'invalid purpose': 'unsupported certificate',
  signature: 'decrypt error',
  'CRL signature': 'decrypt error',
  expired: 'certificate expired',
  'CRL expired': 'certificate expired',
  'not yet valid': 'bad certificate',
  'CRL not yet valid': 'bad certificate',
  revoked: 'certificate revoked',
};

/** `O=Corp, CN=Corp Root`: how names read in messages. */
export function dnText(rdns: readonly Rdn[]): string {
  return rdns.map((r) => `${r.type}=${r.value}`).join(', ');
}

export interface PostgresCheckOptions {
  /** The client's certificate file: the leaf, then any intermediates it sends. */
  leafChain: CertSource;
  /** ssl_ca_file (root.crt). */
  trustAnchors: CertSource;
  /** ssl_crl_file content(s); omit or pass `null` when ssl_crl_file is not set. */
  crls?: string | Buffer | readonly CrlInfo[] | null;
  now?: Date;
  /** Also refuse when a needed CRL expires within this many seconds (a margin for the change window). */
  marginSeconds?: number;
  /** The CRL file's name, for messages. Default 'root.crl'. */
  crlFile?: string;
}

/** What PostgreSQL (OpenSSL, CRL_CHECK|CRL_CHECK_ALL when a CRL is configured) decides for a client certificate. */
export async function postgresWouldAccept(opts: PostgresCheckOptions): Promise<PgVerdict> {
  const now = opts.now ?? new Date();
  const crlFile = opts.crlFile ?? 'root.crl';
  const refuse = (reason: ChainError | CrlError, detail: string, chain: string[], depth: number): PgVerdict => ({
    ok: false,
    error: ALERT[reason],
    reason,
    detail,
    chain,
    depth,
    opensslCode: OPENSSL_CODE[reason],
  });
  const built = buildChain({ leaf: opts.leafChain, trustAnchors: opts.trustAnchors, now, purpose: 'client' });
  if (!built.ok) return refuse(built.error ?? 'unable to get issuer', built.detail ?? '', built.chain, built.errorDepth ?? 0);
  const chain = built.certs;
  const ext = checkExtensions(chain, 'client');
  if (ext) return refuse(ext.error ?? 'invalid CA', ext.detail ?? '', ext.chain, ext.errorDepth ?? 0);
  if (opts.crls !== undefined && opts.crls !== null) {
    const crls = typeof opts.crls === 'string' || Buffer.isBuffer(opts.crls) ? parseCrls(opts.crls) : [...opts.crls];
    const bad = await checkRevocation(chain, crls, now, opts.marginSeconds ?? 0, crlFile);
    if (bad) return refuse(bad.reason, bad.detail, built.chain, bad.depth);
  }
  const sig = checkSignaturesAndTimes(chain, now);
  if (sig) return refuse(sig.error ?? 'signature', sig.detail ?? '', sig.chain, sig.errorDepth ?? 0);
  return { ok: true, chain: built.chain };
}

/** OpenSSL's check_revocation with CRL_CHECK_ALL: leaf first, up to the root. */
async function checkRevocation(
  chain: CertInfo[],
  crls: CrlInfo[],
  now: Date,
  marginSeconds: number,
  crlFile: string,
): Promise<{ reason: CrlError; detail: string; depth: number } | undefined> {
  for (let i = 0; i < chain.length; i++) {
    const cert = chain[i] as CertInfo;
    const issuer = chain[i + 1] ?? cert;
    const named = crls.filter((c) => namesEqual(c.issuerRdns, cert.issuerRdns));
    // like OpenSSL's CRL scoring: a CRL whose AKI names another key is not this issuer's CRL
    const byName = named.filter((c) => c.aki === undefined || issuer.ski === undefined || c.aki === issuer.ski);
    if (byName.length === 0) {
      const why = named.length > 0 ? ` (a CRL named ${dnText(cert.issuerRdns)} is there, but from another key: an old CA with the same name?)` : '';
      return { reason: 'unable to get CRL', depth: i, detail: `${crlFile} has no CRL from ${dnText(cert.issuerRdns)}, the issuer of ${dnText(cert.subjectRdns)}${why}` };
    }
    const signed: CrlInfo[] = [];
    for (const c of byName) if (await crlSignedBy(c, issuer)) signed.push(c);
    if (signed.length === 0) {
      return { reason: 'CRL signature', depth: i, detail: `the CRL in ${crlFile} named ${dnText(cert.issuerRdns)} does not verify with that CA's key` };
    }
    const current = (c: CrlInfo): boolean => c.thisUpdate.getTime() <= now.getTime() && (c.nextUpdate === undefined || c.nextUpdate.getTime() >= now.getTime());
    const crl = [...signed].sort((a, b) => Number(current(b)) - Number(current(a)) || b.thisUpdate.getTime() - a.thisUpdate.getTime())[0] as CrlInfo;
    if (crl.thisUpdate.getTime() > now.getTime()) {
      return { reason: 'CRL not yet valid', depth: i, detail: `the CRL from ${dnText(cert.issuerRdns)} in ${crlFile} is not valid before ${crl.thisUpdate.toISOString()}` };
    }
    if (crl.nextUpdate !== undefined && crl.nextUpdate.getTime() < now.getTime() + marginSeconds * 1000) {
      const when = crl.nextUpdate.getTime() < now.getTime() ? 'expired' : `expires within ${marginSeconds}s,`;
      return { reason: 'CRL expired', depth: i, detail: `the CRL from ${dnText(cert.issuerRdns)} in ${crlFile} ${when} at ${crl.nextUpdate.toISOString()}` };
    }
    const serial = normalizeSerial(cert.serial);
    if (crl.revoked.some((r) => r.serial === serial)) {
      return { reason: 'revoked', depth: i, detail: `${dnText(cert.subjectRdns)} (serial ${serial}) is revoked by the CRL from ${dnText(cert.issuerRdns)} in ${crlFile}` };
    }
  }
  return undefined;
}
