/**
 * A "corporate" trusted CA outside the fleet, for the trusted-CA procedures: a root
 * (CN=Corp Root CA) and an issuing intermediate (CN=Corp Issuing CA 1), each with a CRL. The keys
 * stay in the CA directory on the controller (a controller-held CA). An EC P-256 variant has its
 * own directory and distinct names, so issuer lookups by name are never ambiguous.
 */
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { issueCert, makeCrl, selfSignedCa } from './openssl.js';
import type { KeyType } from './openssl.js';

/** The files of one corporate CA directory. */
export interface CorporateCa {
  dir: string;
  keyType: KeyType;
  rootKey: string;
  rootCert: string;
  rootCrl: string;
  issuingKey: string;
  issuingCert: string;
  issuingCrl: string;
  /** issuing + root certificates (what a trusted-CA root.crt needs to verify issued certs). */
  chain: string;
  /** issuing CRL + root CRL, concatenated (for ssl_crl_file with CRL checks on the whole chain). */
  crls: string;
  rootSubject: string;
  issuingSubject: string;
}

export function corporateCaFiles(dir: string, keyType: KeyType): CorporateCa {
  const ec = keyType === 'ec';
  return {
    dir,
    keyType,
    rootKey: join(dir, 'root-ca.key'),
    rootCert: join(dir, 'root-ca.crt'),
    rootCrl: join(dir, 'root-ca.crl'),
    issuingKey: join(dir, 'issuing-ca.key'),
    issuingCert: join(dir, 'issuing-ca.crt'),
    issuingCrl: join(dir, 'issuing-ca.crl'),
    chain: join(dir, 'chain.crt'),
    crls: join(dir, 'crls.pem'),
    rootSubject: ec ? '/O=Corp/CN=Corp EC Root CA' : '/O=Corp/CN=Corp Root CA',
    issuingSubject: ec ? '/O=Corp/CN=Corp EC Issuing CA 1' : '/O=Corp/CN=Corp Issuing CA 1',
  };
}

/** Make a corporate CA (root + issuing intermediate + CRLs) in `dir` (mode 0700, keys 0600). */
export async function makeCorporateCa(opts: { dir: string; keyType?: KeyType; bits?: number }): Promise<CorporateCa> {
  const keyType = opts.keyType ?? 'rsa';
  const ca = corporateCaFiles(opts.dir, keyType);
  const key = keyType === 'rsa' ? { type: keyType, bits: opts.bits ?? 2048 } : { type: keyType };
  await mkdir(opts.dir, { recursive: true, mode: 0o700 });
  await chmod(opts.dir, 0o700);
  await selfSignedCa({ keyFile: ca.rootKey, certFile: ca.rootCert, subject: ca.rootSubject, key, days: 3650 });
  await issueCert({
    caCert: ca.rootCert,
    caKey: ca.rootKey,
    keyFile: ca.issuingKey,
    certFile: ca.issuingCert,
    subject: ca.issuingSubject,
    profile: 'sub-ca',
    key,
    days: 1825,
  });
  await makeCrl({ caCert: ca.rootCert, caKey: ca.rootKey, crlFile: ca.rootCrl, days: 365 });
  await makeCrl({ caCert: ca.issuingCert, caKey: ca.issuingKey, crlFile: ca.issuingCrl, days: 30 });
  const [root, issuing, rootCrl, issuingCrl] = await Promise.all(
    [ca.rootCert, ca.issuingCert, ca.rootCrl, ca.issuingCrl].map((p) => readFile(p, 'utf8')),
  );
  await writeFile(ca.chain, `${issuing}${root}`, { mode: 0o644 });
  await writeFile(ca.crls, `${issuingCrl}${rootCrl}`, { mode: 0o644 });
  return ca;
}
