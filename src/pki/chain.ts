/**
 * Chain verification the way OpenSSL (and so PostgreSQL) does it: build the chain from the leaf
 * through the intermediates to a self-signed trust anchor (trusted store first), check that every
 * issuer is a CA (and the leaf's purpose, when asked), then signatures and validity from the top
 * down. RSA and EC alike (signatures are checked natively). The verdict is structured data, with
 * OpenSSL's error code so tests can compare with `openssl verify`.
 */
import type { X509Certificate as NodeCert } from 'node:crypto';
import { nodeCert, parseCertificates } from './inspect.js';
import type { CertInfo } from './inspect.js';
import { x509 } from './x509.js';

export type ChainError =
  | 'unable to get issuer'
  | 'self-signed certificate'
  | 'self-signed certificate in chain'
  | 'invalid CA'
  | 'invalid purpose'
  | 'signature'
  | 'expired'
  | 'not yet valid';

/** OpenSSL's X509_V_ERR_* code for each error (what `openssl verify` prints as "error N"). */
export const OPENSSL_CODE: Readonly<Record<string, number>> = {
  'unable to get issuer': 20,
  'self-signed certificate': 18,
  'self-signed certificate in chain': 19,
  'invalid CA': 24,
  'invalid purpose': 26,
  signature: 7,
  expired: 10,
  'not yet valid': 9,
  'unable to get CRL': 3,
  'CRL signature': 8,
  'CRL not yet valid': 11,
  'CRL expired': 12,
  revoked: 23,
};

export type CertSource = string | Buffer | readonly CertInfo[];

export interface ChainVerdict {
  ok: boolean;
  /** Subjects from the leaf up to the anchor (as far as the chain was built). */
  chain: string[];
  /** The certificates of the chain, leaf first. */
  certs: CertInfo[];
  error?: ChainError;
  /** Depth of the certificate the error is about (0 = leaf). */
  errorDepth?: number;
  /** One human sentence: which certificate, what is wrong. */
  detail?: string;
  opensslCode?: number;
}

export interface VerifyChainOptions {
  /** The leaf file: the leaf first, then any intermediates it carries. */
  leaf: CertSource;
  /** Trusted CAs (root.crt: may hold several). */
  trustAnchors: CertSource;
  /** More untrusted intermediates. */
  intermediates?: CertSource;
  now?: Date;
  /** Check the leaf's key usage/EKU for this TLS role (a server checks client certs with 'client'). */
  purpose?: 'client' | 'server';
}

function certs(src: CertSource | undefined): CertInfo[] {
  if (src === undefined) return [];
  return typeof src === 'string' || Buffer.isBuffer(src) ? parseCertificates(src) : [...src];
}

function timeValid(c: CertInfo, now: Date): boolean {
  return c.notBefore.getTime() <= now.getTime() && now.getTime() <= c.notAfter.getTime();
}

/** OpenSSL's X509_check_issued: names, AKI/SKI and keyCertSign (no signature check here). */
function issuedBy(child: NodeCert, parent: NodeCert): boolean {
  return child.checkIssued(parent);
}

function selfSigned(c: CertInfo): boolean {
  const n = nodeCert(c);
  return issuedBy(n, n) && n.verify(n.publicKey);
}

/** Whether a cert may act as a CA: basicConstraints CA:TRUE, or a v1 self-signed root. */
function mayIssue(c: CertInfo): boolean {
  if (c.isCA) return true;
  const p = new x509.X509Certificate(new Uint8Array(c.der));
  return p.extensions.length === 0 && selfSigned(c);
}

const EKU = { client: '1.3.6.1.5.5.7.3.2', server: '1.3.6.1.5.5.7.3.1' } as const;

function purposeOk(c: CertInfo, purpose: 'client' | 'server'): boolean {
  const p = new x509.X509Certificate(new Uint8Array(c.der));
  const ekuExt = p.getExtension('2.5.29.37');
  if (ekuExt) {
    const usages = new x509.ExtendedKeyUsageExtension(ekuExt.rawData).usages.map(String);
    if (!usages.includes(EKU[purpose]) && !usages.includes('2.5.29.37.0')) return false;
  }
  const kuExt = p.getExtension('2.5.29.15');
  if (kuExt) {
    const ku = new x509.KeyUsagesExtension(kuExt.rawData).usages;
    const F = x509.KeyUsageFlags;
    const need = purpose === 'client' ? F.digitalSignature | F.keyAgreement : F.digitalSignature | F.keyEncipherment | F.keyAgreement;
    if ((ku & need) === 0) return false;
  }
  return true;
}

function fail(chain: CertInfo[], error: ChainError, depth: number, detail: string): ChainVerdict {
  return { ok: false, chain: chain.map((c) => c.subject), certs: chain, error, errorDepth: depth, detail, opensslCode: OPENSSL_CODE[error] };
}

/** Build the chain only: the certificates from the leaf to the anchor, or why it cannot be built. */
export function buildChain(opts: VerifyChainOptions): ChainVerdict & { trusted: boolean } {
  const now = opts.now ?? new Date();
  const leafFile = certs(opts.leaf);
  const leaf = leafFile[0];
  if (!leaf) return { ...fail([], 'unable to get issuer', 0, 'the leaf file holds no certificate'), trusted: false };
  const anchors = certs(opts.trustAnchors);
  const untrusted = [...leafFile.slice(1), ...certs(opts.intermediates)];
  const chain: CertInfo[] = [leaf];
  const isAnchor = (c: CertInfo): boolean => anchors.some((a) => a.der.equals(c.der));
  for (let depth = 0; depth < 32; depth++) {
    const cur = chain[chain.length - 1] as CertInfo;
    if (isAnchor(cur) && selfSigned(cur)) return { ok: true, chain: chain.map((c) => c.subject), certs: chain, trusted: true };
    if (selfSigned(cur)) {
      return depth === 0
        ? { ...fail(chain, 'self-signed certificate', 0, `${cur.subject} is self-signed and not in the trusted CAs`), trusted: false }
        : { ...fail(chain, 'self-signed certificate in chain', depth, `${cur.subject} is a self-signed CA that is not in the trusted CAs`), trusted: false };
    }
    const n = nodeCert(cur);
    const pick = (pool: CertInfo[]): CertInfo | undefined => {
      const cands = pool.filter((p) => !chain.some((c) => c.der.equals(p.der)) && issuedBy(n, nodeCert(p)));
      return cands.find((p) => timeValid(p, now)) ?? cands[0];
    };
    const next = pick(anchors) ?? pick(untrusted);
    if (!next) {
      const v = fail(chain, 'unable to get issuer', depth, `no certificate of issuer ${cur.issuer} (of ${cur.subject}) among the trusted CAs or the intermediates`);
      // OpenSSL says "unable to get issuer certificate" (2) when the chain ends in a trusted non-root
      return { ...v, opensslCode: isAnchor(cur) ? 2 : 20, trusted: false };
    }
    chain.push(next);
  }
  return { ...fail(chain, 'unable to get issuer', chain.length - 1, 'certificate chain too long'), trusted: false };
}

/** Check CA flags and purpose of a built chain. */
export function checkExtensions(chain: CertInfo[], purpose: 'client' | 'server' | undefined): ChainVerdict | undefined {
  for (let i = 1; i < chain.length; i++) {
    const c = chain[i] as CertInfo;
    if (!mayIssue(c)) return fail(chain, 'invalid CA', i, `${c.subject} issued ${chain[i - 1]?.subject} but is not a CA (no basicConstraints CA:TRUE)`);
  }
  const leaf = chain[0];
  if (purpose && leaf && !purposeOk(leaf, purpose)) {
    return fail(chain, 'invalid purpose', 0, `${leaf.subject} is not usable as a TLS ${purpose} certificate (extended key usage lacks ${purpose}Auth)`);
  }
  return undefined;
}

/** Signatures and validity, from the top of the chain down (OpenSSL's internal_verify order). */
export function checkSignaturesAndTimes(chain: CertInfo[], now: Date): ChainVerdict | undefined {
  for (let i = chain.length - 1; i >= 0; i--) {
    const c = chain[i] as CertInfo;
    const issuer = chain[i + 1];
    if (issuer && !nodeCert(c).verify(nodeCert(issuer).publicKey)) {
      return fail(chain, 'signature', i, `the signature on ${c.subject} does not verify with the key of ${issuer.subject}`);
    }
    if (now.getTime() < c.notBefore.getTime()) return fail(chain, 'not yet valid', i, `${c.subject} is not valid before ${c.notBefore.toISOString()}`);
    if (now.getTime() > c.notAfter.getTime()) return fail(chain, 'expired', i, `${c.subject} expired at ${c.notAfter.toISOString()}`);
  }
  return undefined;
}

/** Verify a leaf against trust anchors plus intermediates (no CRLs; see crl.ts for those). */
export function verifyChain(opts: VerifyChainOptions): ChainVerdict {
  const built = buildChain(opts);
  const { trusted: _t, ...verdict } = built;
  if (!built.ok) return verdict;
  const now = opts.now ?? new Date();
  return checkExtensions(built.certs, opts.purpose) ?? checkSignaturesAndTimes(built.certs, now) ?? verdict;
}
