/**
 * Reading certificates: subject/issuer (slash form, map, CN), serial, SANs, validity and days
 * left, key type/size, SHA-256 fingerprint in openssl's colon form, CA flag, key match by SPKI
 * bytes, and bundles holding several certificates (root.crt may trust several CAs). Uses node's
 * native X509Certificate for digests and keys and @peculiar/x509 for names and extensions.
 */
import { X509Certificate as NodeCert, createHash } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { TaskError } from '../errors.js';
import { describeKey, spkiDer } from './keys.js';
import type { KeyDescription } from './keys.js';
import { OID_SAN, sansOf } from './csr.js';
import type { San } from './csr.js';
import { commonName, formatOneline, formatSlash, fromX509Name, toMap } from './names.js';
import type { Rdn } from './names.js';
import { isPem, splitPem } from './pem.js';
import { x509 } from './x509.js';

const DAY_MS = 86_400_000;
const CERT_LABELS = new Set(['CERTIFICATE', 'X509 CERTIFICATE', 'TRUSTED CERTIFICATE']);

/** Everything public about one certificate. */
export interface CertInfo {
  /** `/C=IN/O=PEM/CN=agent1` (as `openssl x509 -subject -nameopt compat`). */
  subject: string;
  /** `C = IN, O = PEM, CN = agent1` (openssl 3's default). */
  subjectOneline: string;
  subjectMap: Record<string, string>;
  subjectRdns: Rdn[];
  cn: string | undefined;
  issuer: string;
  issuerOneline: string;
  issuerMap: Record<string, string>;
  issuerRdns: Rdn[];
  issuerCn: string | undefined;
  /** Uppercase hex without leading zero bytes, as `openssl x509 -serial`. */
  serial: string;
  san: San[];
  notBefore: Date;
  notAfter: Date;
  key: KeyDescription;
  /** `AB:CD:...` as `openssl x509 -fingerprint -sha256`. */
  fingerprintSha256: string;
  /** sha256 of the SPKI DER, hex: equal for a cert and its key. */
  spkiSha256: string;
  isCA: boolean;
  selfIssued: boolean;
  /** Subject/authority key identifiers, lowercase hex. */
  ski: string | undefined;
  aki: string | undefined;
  pem: string;
  der: Buffer;
}

/** Whole days until notAfter (negative once expired). */
export function daysLeft(info: Pick<CertInfo, 'notAfter'>, now: Date = new Date()): number {
  return Math.floor((info.notAfter.getTime() - now.getTime()) / DAY_MS);
}

/** Parse one certificate from DER. */
export function certFromDer(der: Buffer): CertInfo {
  let node: NodeCert;
  let pec: InstanceType<typeof x509.X509Certificate>;
  try {
    node = new NodeCert(der);
    pec = new x509.X509Certificate(new Uint8Array(der));
  } catch (e) {
    throw new TaskError('the certificate cannot be decoded', { hint: 'check that the file is an X.509 certificate', cause: e });
  }
  const subjectRdns = fromX509Name(pec.subjectName);
  const issuerRdns = fromX509Name(pec.issuerName);
  const spki = spkiDer(node.publicKey);
  const skiExt = pec.getExtension('2.5.29.14');
  const akiExt = pec.getExtension('2.5.29.35');
  const bcExt = pec.getExtension('2.5.29.19');
  return {
    subject: formatSlash(subjectRdns),
    subjectOneline: formatOneline(subjectRdns),
    subjectMap: toMap(subjectRdns),
    subjectRdns,
    cn: commonName(subjectRdns),
    issuer: formatSlash(issuerRdns),
    issuerOneline: formatOneline(issuerRdns),
    issuerMap: toMap(issuerRdns),
    issuerRdns,
    issuerCn: commonName(issuerRdns),
    serial: node.serialNumber.toUpperCase().replace(/^(00)+(?=.)/, ''),
    san: sansOf(pec.getExtension(OID_SAN)),
    notBefore: pec.notBefore,
    notAfter: pec.notAfter,
    key: describeKey(node.publicKey),
    fingerprintSha256: node.fingerprint256,
    spkiSha256: createHash('sha256').update(spki).digest('hex'),
    isCA: bcExt ? new x509.BasicConstraintsExtension(bcExt.rawData).ca : false,
    selfIssued: node.subject === node.issuer,
    ski: skiExt ? new x509.SubjectKeyIdentifierExtension(skiExt.rawData).keyId.toLowerCase() : undefined,
    aki: akiExt ? new x509.AuthorityKeyIdentifierExtension(akiExt.rawData).keyId?.toLowerCase() : undefined,
    pem: node.toString(),
    der,
  };
}

/** Every certificate in a PEM bundle (or one DER certificate), in file order. */
export function parseCertificates(input: string | Buffer): CertInfo[] {
  if (typeof input === 'string' && !isPem(input)) return [];
  if (!isPem(input)) return [certFromDer(Buffer.isBuffer(input) ? input : Buffer.from(input, 'latin1'))];
  return splitPem(input)
    .filter((b) => CERT_LABELS.has(b.label))
    .map((b) => certFromDer(b.der));
}

/** The first certificate of a file; throws TaskError when there is none. */
export function parseCertificate(input: string | Buffer): CertInfo {
  const first = parseCertificates(input)[0];
  if (!first) throw new TaskError('no certificate found', { hint: 'give a PEM file with a "BEGIN CERTIFICATE" block' });
  return first;
}

/** Whether a key (private or public KeyObject, or SPKI DER) is the certificate's key, by SPKI bytes. */
export function publicKeyMatches(cert: Pick<CertInfo, 'der'>, key: KeyObject | Buffer): boolean {
  const certSpki = spkiDer(new NodeCert(cert.der).publicKey);
  return certSpki.equals(Buffer.isBuffer(key) ? key : spkiDer(key));
}

/** A node X509Certificate for a parsed cert (signature checks in chain.ts). */
export function nodeCert(info: Pick<CertInfo, 'der'>): NodeCert {
  return new NodeCert(info.der);
}
