/**
 * Issuing certificates with a CA whose cert and key the controller holds: leaf certificates from a
 * CSR (client, server or both), a self-signed root CA and an intermediate CA (for the lab and the
 * tests). Serials are random positive 128-bit numbers (no serial file to keep in sync); notBefore
 * is backdated a few minutes for clock skew. What comes out passes `openssl verify` and PostgreSQL.
 */
import { createPublicKey, randomBytes } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import type { Extension, X509Certificate as PeculiarCert } from '@peculiar/x509';
import { TaskError } from '../errors.js';
import { describeKey, sameKey, signingKey, spkiDer } from './keys.js';
import { OID_SAN, loadCsr, parseSan, sanJson, sansOf } from './csr.js';
import type { San } from './csr.js';
import { parseSubject, toX509Name } from './names.js';
import type { SubjectInput } from './names.js';
import { splitPem } from './pem.js';
import { x509 } from './x509.js';

export type Usage = 'client' | 'server' | 'both';

/** A CA the controller holds: its certificate (PEM) and private key. */
export interface CaMaterial {
  certPem: string;
  key: KeyObject;
}

/** Default backdating of notBefore, for hosts whose clocks run a little behind. */
export const DEFAULT_BACKDATE_SECONDS = 300;
const DAY_MS = 86_400_000;

/** A random positive serial of 16 bytes (top bit clear, second bit set so it is always 16 bytes), hex. */
export function randomSerialHex(): string {
  const b = randomBytes(16);
  b[0] = ((b[0] ?? 0) & 0x7f) | 0x40;
  return b.toString('hex');
}

/** The first certificate of a PEM text, as a @peculiar/x509 certificate. */
export function loadCert(pem: string | Buffer): PeculiarCert {
  const block = splitPem(pem).find((b) => b.label === 'CERTIFICATE' || b.label === 'X509 CERTIFICATE' || b.label === 'TRUSTED CERTIFICATE');
  if (!block) throw new TaskError('no CERTIFICATE block found', { hint: 'give a PEM certificate' });
  return new x509.X509Certificate(new Uint8Array(block.der));
}

interface Validity {
  days: number;
  now?: Date;
  backdateSeconds?: number;
  /** Explicit dates (tests: expired and not-yet-valid certificates). */
  notBefore?: Date;
  notAfter?: Date;
}

function validity(v: Validity): { notBefore: Date; notAfter: Date } {
  if (!(v.days > 0) && v.notAfter === undefined) throw new TaskError(`days must be positive, got ${v.days}`, { hint: 'e.g. days: 365' });
  const now = v.now ?? new Date();
  const notBefore = v.notBefore ?? new Date(now.getTime() - (v.backdateSeconds ?? DEFAULT_BACKDATE_SECONDS) * 1000);
  const notAfter = v.notAfter ?? new Date(now.getTime() + v.days * DAY_MS);
  return { notBefore, notAfter };
}

async function caExtensions(spki: Buffer, pathLength: number | undefined, issuerKeyId: string): Promise<Extension[]> {
  const ski = await x509.SubjectKeyIdentifierExtension.create(new Uint8Array(spki));
  return [
    new x509.BasicConstraintsExtension(true, pathLength, true),
    new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
    ski,
    new x509.AuthorityKeyIdentifierExtension(issuerKeyId === '' ? ski.keyId : issuerKeyId),
  ];
}

/** The CA's subject key identifier (from its SKI extension, or computed as OpenSSL would). */
async function keyIdOf(cert: PeculiarCert): Promise<string> {
  const ski = cert.getExtension('2.5.29.14');
  if (ski) return new x509.SubjectKeyIdentifierExtension(ski.rawData).keyId;
  return (await x509.SubjectKeyIdentifierExtension.create(cert.publicKey)).keyId;
}

/** Check the CA cert and key belong together and the cert is a CA. */
function checkCa(ca: CaMaterial): PeculiarCert {
  const cert = loadCert(ca.certPem);
  const pub = createPublicKey({ key: Buffer.from(cert.publicKey.rawData), format: 'der', type: 'spki' });
  if (!sameKey(pub, ca.key)) {
    throw new TaskError(`the CA key does not match the CA certificate ${cert.subject}`, { hint: 'give the key that belongs to the CA certificate' });
  }
  const bc = cert.getExtension('2.5.29.19');
  if (!bc || !new x509.BasicConstraintsExtension(bc.rawData).ca) {
    throw new TaskError(`${cert.subject} is not a CA certificate (no basicConstraints CA:TRUE)`, { hint: 'sign with a CA certificate' });
  }
  return cert;
}

/** Create a self-signed root CA certificate, PEM. */
export async function createSelfSignedCa(opts: { key: KeyObject; subject: SubjectInput; days: number; pathLength?: number } & Omit<Validity, 'days'>): Promise<string> {
  const { key, algorithm } = await signingKey(opts.key);
  const spki = spkiDer(opts.key);
  const name = toX509Name(parseSubject(opts.subject));
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: randomSerialHex(),
    subject: name,
    issuer: name,
    ...validity(opts),
    publicKey: new Uint8Array(spki),
    signingKey: key,
    signingAlgorithm: algorithm,
    extensions: await caExtensions(spki, opts.pathLength, ''),
  });
  return cert.toString('pem') + '\n';
}

/** Create an intermediate CA for `publicKey` (any KeyObject; only its public half is used), signed by `issuer`. */
export async function createIntermediateCa(
  opts: { publicKey: KeyObject; subject: SubjectInput; days: number; issuer: CaMaterial; pathLength?: number } & Omit<Validity, 'days'>,
): Promise<string> {
  const issuerCert = checkCa(opts.issuer);
  const { key, algorithm } = await signingKey(opts.issuer.key);
  const spki = spkiDer(opts.publicKey);
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: randomSerialHex(),
    subject: toX509Name(parseSubject(opts.subject)),
    issuer: issuerCert.subjectName,
    ...validity(opts),
    publicKey: new Uint8Array(spki),
    signingKey: key,
    signingAlgorithm: algorithm,
    extensions: await caExtensions(spki, opts.pathLength, await keyIdOf(issuerCert)),
  });
  return cert.toString('pem') + '\n';
}

export interface IssueOptions extends Validity {
  csrPem: string;
  ca: CaMaterial;
  usage: Usage;
  /** Copy the SANs the CSR asks for (default false: a CSR cannot grant itself names). */
  copySan?: boolean;
  /** SANs the caller adds. */
  san?: readonly (string | San)[];
  serialHex?: string;
}

export interface Issued {
  certPem: string;
  serialHex: string;
  notBefore: Date;
  notAfter: Date;
}

/** Issue a leaf certificate from a CSR. The CSR's signature is checked first. */
export async function issueCertificate(opts: IssueOptions): Promise<Issued> {
  const csr = loadCsr(opts.csrPem);
  if (!(await csr.verify())) {
    throw new TaskError(`the CSR for ${csr.subject} has an invalid signature`, { hint: 'regenerate the CSR from its key' });
  }
  const issuerCert = checkCa(opts.ca);
  const { key, algorithm } = await signingKey(opts.ca.key);
  const spki = Buffer.from(csr.publicKey.rawData);
  const leafKey = describeKey(createPublicKey({ key: spki, format: 'der', type: 'spki' }));
  const ku = leafKey.type === 'rsa' ? x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment : x509.KeyUsageFlags.digitalSignature;
  const eku = opts.usage === 'client' ? ['1.3.6.1.5.5.7.3.2'] : opts.usage === 'server' ? ['1.3.6.1.5.5.7.3.1'] : ['1.3.6.1.5.5.7.3.1', '1.3.6.1.5.5.7.3.2'];
  const sans: San[] = [...(opts.copySan ? sansOf(csr.getExtension(OID_SAN)) : []), ...(opts.san ?? []).map((s) => (typeof s === 'string' ? parseSan(s) : s))];
  const extensions: Extension[] = [
    new x509.BasicConstraintsExtension(false, undefined, true),
    new x509.KeyUsagesExtension(ku, true),
    new x509.ExtendedKeyUsageExtension(eku, false),
    await x509.SubjectKeyIdentifierExtension.create(new Uint8Array(spki)),
    new x509.AuthorityKeyIdentifierExtension(await keyIdOf(issuerCert)),
  ];
  if (sans.length > 0) extensions.push(new x509.SubjectAlternativeNameExtension(sanJson(sans), false));
  const serialHex = opts.serialHex ?? randomSerialHex();
  const { notBefore, notAfter } = validity(opts);
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serialHex,
    subject: csr.subjectName,
    issuer: issuerCert.subjectName,
    notBefore,
    notAfter,
    publicKey: new Uint8Array(spki),
    signingKey: key,
    signingAlgorithm: algorithm,
    extensions,
  });
  return { certPem: cert.toString('pem') + '\n', serialHex, notBefore, notAfter };
}
