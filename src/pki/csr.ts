/**
 * Certificate signing requests: build one from a key and a subject (map or `/C=../CN=..` string)
 * with SANs and key usage, parse one, and verify its self-signature. Used by the controller-held
 * CA path and by tests; on hosts, CSRs are made by the host's own openssl from the host's key.
 */
import type { KeyObject } from 'node:crypto';
import type { Extension, JsonGeneralNames, Pkcs10CertificateRequest, SubjectAlternativeNameExtension } from '@peculiar/x509';
import { x509 } from './x509.js';
import { isIP } from 'node:net';
import { TaskError } from '../errors.js';
import { describeKey, parsePublicKey, signingKey } from './keys.js';
import type { KeyDescription } from './keys.js';
import { splitPem } from './pem.js';
import { commonName, formatSlash, fromX509Name, parseSubject, toMap, toX509Name } from './names.js';
import type { Rdn, SubjectInput } from './names.js';

/** Extension OIDs (peculiar's `NAME` constants are display names, not OIDs). */
export const OID_SAN = '2.5.29.17';

/** A subjectAltName entry. */
export interface San {
  type: 'dns' | 'ip' | 'email' | 'uri';
  value: string;
}

/** `DNS:host`, `IP:10.0.0.1`, `email:x@y`, `URI:...`, or a bare value (an IP address or a DNS name). */
export function parseSan(text: string): San {
  const m = /^(DNS|IP|email|URI):(.+)$/i.exec(text.trim());
  if (m) {
    const kind = (m[1] ?? '').toLowerCase();
    const value = m[2] ?? '';
    if (kind === 'ip' && isIP(value) === 0) throw new TaskError(`SAN "${text}" is not an IP address`, { hint: 'write IP:10.0.0.1 or DNS:name' });
    return { type: kind === 'dns' ? 'dns' : kind === 'ip' ? 'ip' : kind === 'email' ? 'email' : 'uri', value };
  }
  const v = text.trim();
  return isIP(v) !== 0 ? { type: 'ip', value: v } : { type: 'dns', value: v };
}

/** `DNS:x`, `IP Address:1.2.3.4` like openssl's text output. */
export function formatSan(s: San): string {
  return s.type === 'dns' ? `DNS:${s.value}` : s.type === 'ip' ? `IP:${s.value}` : s.type === 'email' ? `email:${s.value}` : `URI:${s.value}`;
}

/** SANs as peculiar's JSON (its `url` is our `uri`). */
export function sanJson(sans: readonly San[]): JsonGeneralNames {
  return sans.map((s) => ({ type: s.type === 'uri' ? 'url' : s.type, value: s.value }));
}

/** SANs out of a SubjectAlternativeName extension (other name types are skipped). */
export function sansOf(ext: Extension | null): San[] {
  if (!ext) return [];
  const san: SubjectAlternativeNameExtension =
    ext instanceof x509.SubjectAlternativeNameExtension ? ext : new x509.SubjectAlternativeNameExtension(ext.rawData);
  const out: San[] = [];
  for (const n of san.names.toJSON()) {
    if (n.type === 'dns' || n.type === 'ip' || n.type === 'email') out.push({ type: n.type, value: n.value });
    else if (n.type === 'url') out.push({ type: 'uri', value: n.value });
  }
  return out;
}

export interface CsrOptions {
  /** The private key that signs the request. */
  key: KeyObject;
  subject: SubjectInput;
  san?: readonly (string | San)[];
  /** Add keyUsage digitalSignature+keyEncipherment to the request. Default false (openssl req adds none). */
  keyUsage?: boolean;
}

/** Build a CSR, PEM. */
export async function createCsr(opts: CsrOptions): Promise<string> {
  const rdns = parseSubject(opts.subject);
  const { key, publicKey, algorithm } = await signingKey(opts.key);
  const exts: Extension[] = [];
  const sans = (opts.san ?? []).map((s) => (typeof s === 'string' ? parseSan(s) : s));
  if (sans.length > 0) exts.push(new x509.SubjectAlternativeNameExtension(sanJson(sans), false));
  if (opts.keyUsage) exts.push(new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment, true));
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({
    name: toX509Name(rdns),
    keys: { privateKey: key, publicKey },
    signingAlgorithm: algorithm,
    attributes: exts.length > 0 ? [new x509.ExtensionsAttribute(exts)] : [],
  });
  return csr.toString('pem') + '\n';
}

/** What a CSR says. */
export interface CsrInfo {
  /** `/C=IN/O=PEM/CN=agent1`. */
  subject: string;
  subjectMap: Record<string, string>;
  subjectRdns: Rdn[];
  cn: string | undefined;
  san: San[];
  key: KeyDescription;
  /** SPKI DER of the requested public key. */
  spki: Buffer;
  /** PEM of the request, normalized. */
  pem: string;
}

/** The first CSR in a PEM text (CRLF fine). Throws TaskError if there is none. */
export function loadCsr(input: string | Buffer): Pkcs10CertificateRequest {
  const block = splitPem(input).find((b) => b.label === 'CERTIFICATE REQUEST' || b.label === 'NEW CERTIFICATE REQUEST');
  if (!block) throw new TaskError('no CERTIFICATE REQUEST block found', { hint: 'give the PEM CSR made by openssl req -new' });
  try {
    return new x509.Pkcs10CertificateRequest(new Uint8Array(block.der));
  } catch (e) {
    throw new TaskError('the CSR cannot be decoded', { hint: 'regenerate it with openssl req -new', cause: e });
  }
}

/** Parse a CSR. */
export function parseCsr(input: string | Buffer): CsrInfo {
  const csr = loadCsr(input);
  const rdns = fromX509Name(csr.subjectName);
  const spki = Buffer.from(csr.publicKey.rawData);
  return {
    subject: formatSlash(rdns),
    subjectMap: toMap(rdns),
    subjectRdns: rdns,
    cn: commonName(rdns),
    san: sansOf(csr.getExtension(OID_SAN)),
    key: describeKey(parsePublicKey(spki)),
    spki,
    pem: csr.toString('pem') + '\n',
  };
}

/** Whether the CSR's self-signature is valid (proof of possession of the key). */
export async function verifyCsr(input: string | Buffer): Promise<boolean> {
  try {
    return await loadCsr(input).verify();
  } catch {
    return false;
  }
}
