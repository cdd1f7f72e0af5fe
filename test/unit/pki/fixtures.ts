/** A small PKI for tests: root (RSA), intermediate (EC), leaves, made by our own pki code. */
import { createCsr } from '../../../src/pki/csr.js';
import { generateKey } from '../../../src/pki/keys.js';
import type { KeySpec } from '../../../src/pki/keys.js';
import { createIntermediateCa, createSelfSignedCa, issueCertificate } from '../../../src/pki/sign.js';
import type { CaMaterial, IssueOptions } from '../../../src/pki/sign.js';
import type { KeyObject } from 'node:crypto';

export interface TestCa extends CaMaterial {
  name: string;
}

export async function makeRoot(cn: string, spec: KeySpec = { type: 'ec', curve: 'P-256' }, extra: { notBefore?: Date; notAfter?: Date } = {}): Promise<TestCa> {
  const k = await generateKey(spec);
  return { name: cn, key: k.privateKey, certPem: await createSelfSignedCa({ key: k.privateKey, subject: { O: 'Fleet Test', CN: cn }, days: 3650, ...extra }) };
}

export async function makeIntermediate(cn: string, issuer: CaMaterial, spec: KeySpec = { type: 'ec', curve: 'P-384' }): Promise<TestCa> {
  const k = await generateKey(spec);
  return { name: cn, key: k.privateKey, certPem: await createIntermediateCa({ publicKey: k.publicKey, subject: { O: 'Fleet Test', CN: cn }, days: 1825, issuer }) };
}

export interface TestLeaf {
  key: KeyObject;
  csrPem: string;
  certPem: string;
  serialHex: string;
}

export async function makeLeaf(
  cn: string,
  ca: CaMaterial,
  opts: Partial<Omit<IssueOptions, 'csrPem' | 'ca'>> & { spec?: KeySpec; csrSan?: string[] } = {},
): Promise<TestLeaf> {
  const k = await generateKey(opts.spec ?? { type: 'ec', curve: 'P-256' });
  const csrPem = await createCsr({ key: k.privateKey, subject: { CN: cn }, san: opts.csrSan ?? [] });
  const { spec: _s, csrSan: _c, ...rest } = opts;
  const issued = await issueCertificate({ days: 365, usage: 'client', ...rest, csrPem, ca });
  return { key: k.privateKey, csrPem, certPem: issued.certPem, serialHex: issued.serialHex };
}

/**
 * Teach a FakeHost the read-only openssl probes the certificate modules run: `openssl pkey -in P
 * -pubout` answers with the public key of the in-memory private key at P (computed by node).
 */
import type { FakeHost } from '../../support/fake-probe.js';
import { parsePrivateKey, publicKeyPem } from '../../../src/pki/keys.js';

export function withPkeyProbe(h: FakeHost): FakeHost {
  return h.on(['openssl', 'pkey'], (argv) => {
    const path = argv[argv.indexOf('-in') + 1] ?? '';
    const text = h.content(path);
    if (text === null) return { exitCode: 1, stderr: `Could not open file or uri for loading private key from ${path}` };
    try {
      return { stdout: publicKeyPem(parsePrivateKey(text)) };
    } catch {
      return { exitCode: 1, stderr: 'Could not read private key' };
    }
  });
}
