/**
 * Private and public keys with node's crypto (native OpenSSL): generate RSA and EC keys, read them
 * from PEM (PKCS#1, PKCS#8, SEC1, encrypted PKCS#8 or legacy encrypted PEM) or DER, describe them.
 * Nothing here returns, logs or puts key material in an error message; a passphrase comes from the
 * caller (who reads it from an environment variable) and is only handed to OpenSSL.
 */
import { createPrivateKey, createPublicKey, generateKeyPair, webcrypto } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { promisify } from 'node:util';
import { TaskError } from '../errors.js';
import { isPem, splitPem, toPem } from './pem.js';

const generateKeyPairAsync = promisify(generateKeyPair);

export type RsaBits = 2048 | 3072 | 4096;
export type EcCurve = 'P-256' | 'P-384';
export type KeySpec = { type: 'rsa'; bits: RsaBits } | { type: 'ec'; curve: EcCurve };

/** Public facts about a key: never its material. */
export interface KeyDescription {
  type: 'rsa' | 'ec' | 'other';
  bits?: number;
  curve?: string;
  /** "RSA 4096", "EC P-256". */
  label: string;
}

export interface GeneratedKey {
  /** PKCS#8 PEM, unencrypted: write it with mode 0600 from the first byte. */
  privateKeyPem: string;
  publicKeyPem: string;
  privateKey: KeyObject;
  publicKey: KeyObject;
}

const PRIVATE_LABELS = new Set(['PRIVATE KEY', 'RSA PRIVATE KEY', 'EC PRIVATE KEY', 'ENCRYPTED PRIVATE KEY']);
const PUBLIC_LABELS = new Set(['PUBLIC KEY', 'RSA PUBLIC KEY']);
const CURVE_NAMES: Record<string, string> = { prime256v1: 'P-256', secp384r1: 'P-384', secp521r1: 'P-521' };

/** Generate a key pair natively (async, off the main thread). */
export async function generateKey(spec: KeySpec): Promise<GeneratedKey> {
  const { privateKey, publicKey } =
    spec.type === 'rsa'
      ? await generateKeyPairAsync('rsa', { modulusLength: spec.bits, publicExponent: 0x10001 })
      : await generateKeyPairAsync('ec', { namedCurve: spec.curve });
  return {
    privateKeyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    privateKey,
    publicKey,
  };
}

/** True when the PEM text holds an encrypted private key (PKCS#8 or legacy `Proc-Type: 4,ENCRYPTED`). */
export function isEncryptedKey(input: string | Buffer): boolean {
  return splitPem(input).some((b) => b.label === 'ENCRYPTED PRIVATE KEY' || (b.headers['Proc-Type'] ?? '').includes('ENCRYPTED'));
}

/**
 * Read a private key. PEM (first key block wins; `EC PARAMETERS` and certificates are skipped,
 * CRLF is fine) or DER (PKCS#8, PKCS#1, SEC1). `passphrase` is needed for encrypted keys.
 */
export function parsePrivateKey(input: string | Buffer, opts: { passphrase?: string; source?: string } = {}): KeyObject {
  const where = opts.source ?? 'the key';
  if (isPem(input)) {
    const block = splitPem(input).find((b) => PRIVATE_LABELS.has(b.label));
    if (!block) throw new TaskError(`${where} holds no private key block`, { hint: 'give a PEM file with a "BEGIN ... PRIVATE KEY" block' });
    const encrypted = block.label === 'ENCRYPTED PRIVATE KEY' || (block.headers['Proc-Type'] ?? '').includes('ENCRYPTED');
    if (encrypted && opts.passphrase === undefined) {
      throw new TaskError(`${where} is encrypted and no passphrase was given`, {
        hint: 'set the passphrase environment variable named by the task (e.g. key_passphrase_env)',
      });
    }
    try {
      return createPrivateKey(encrypted ? { key: block.text, format: 'pem', passphrase: opts.passphrase } : { key: block.text, format: 'pem' });
    } catch (e) {
      throw new TaskError(encrypted ? `cannot decrypt ${where}: wrong passphrase or unsupported cipher` : `cannot read ${where}`, {
        hint: encrypted ? 'check the passphrase environment variable' : 'check that the file is a PEM private key',
        cause: safeCause(e),
      });
    }
  }
  const der = Buffer.isBuffer(input) ? input : Buffer.from(input, 'latin1');
  for (const type of ['pkcs8', 'pkcs1', 'sec1'] as const) {
    try {
      return createPrivateKey({ key: der, format: 'der', type });
    } catch {
      // try the next encoding
    }
  }
  throw new TaskError(`cannot read ${where}: neither PEM nor DER PKCS#8/PKCS#1/SEC1`, { hint: 'check that the file is a private key' });
}

/** Read a public key from a SPKI/PKCS#1 public PEM, a certificate, a CSR-less private key, or SPKI DER. */
export function parsePublicKey(input: string | Buffer | KeyObject): KeyObject {
  if (typeof input === 'object' && !Buffer.isBuffer(input)) {
    return input.type === 'private' ? createPublicKey(input) : input;
  }
  if (isPem(input)) {
    const blocks = splitPem(input);
    const pub = blocks.find((b) => PUBLIC_LABELS.has(b.label) || b.label === 'CERTIFICATE');
    if (pub) return createPublicKey({ key: pub.text, format: 'pem' });
    return createPublicKey(parsePrivateKey(input));
  }
  const der = Buffer.isBuffer(input) ? input : Buffer.from(input, 'latin1');
  return createPublicKey({ key: der, format: 'der', type: 'spki' });
}

/** DER SubjectPublicKeyInfo of a key (private keys give their public half). */
export function spkiDer(key: KeyObject): Buffer {
  return (key.type === 'private' ? createPublicKey(key) : key).export({ type: 'spki', format: 'der' });
}

/** SPKI PEM of a key: the only form of a key that may be shown or sent. */
export function publicKeyPem(key: KeyObject): string {
  return toPem('PUBLIC KEY', spkiDer(key));
}

/** Whether two keys (private or public) have the same public key, by SPKI bytes. */
export function sameKey(a: KeyObject, b: KeyObject): boolean {
  return spkiDer(a).equals(spkiDer(b));
}

/** Type and size of a key. */
export function describeKey(key: KeyObject): KeyDescription {
  const d = key.asymmetricKeyDetails ?? {};
  if (key.asymmetricKeyType === 'rsa' || key.asymmetricKeyType === 'rsa-pss') {
    const bits = d.modulusLength ?? 0;
    return { type: 'rsa', bits, label: `RSA ${bits}` };
  }
  if (key.asymmetricKeyType === 'ec') {
    const raw = d.namedCurve ?? 'unknown';
    const curve = CURVE_NAMES[raw] ?? raw;
    const bits = curve === 'P-256' ? 256 : curve === 'P-384' ? 384 : curve === 'P-521' ? 521 : undefined;
    return bits === undefined ? { type: 'ec', curve, label: `EC ${curve}` } : { type: 'ec', curve, bits, label: `EC ${curve}` };
  }
  return { type: 'other', label: String(key.asymmetricKeyType ?? 'unknown') };
}

/** The WebCrypto key pair and signature algorithm for a private key (what @peculiar/x509 signs with). */
export async function signingKey(key: KeyObject): Promise<SigningKey> {
  // importing an RSA-4096 key costs more than a signature: import each KeyObject once
  let p = signingKeys.get(key);
  if (p === undefined) {
    p = importSigningKey(key);
    signingKeys.set(key, p);
    p.catch(() => signingKeys.delete(key));
  }
  return p;
}

export interface SigningKey {
  key: webcrypto.CryptoKey;
  publicKey: webcrypto.CryptoKey;
  algorithm: SignAlgorithm;
}

const signingKeys = new WeakMap<KeyObject, Promise<SigningKey>>();

async function importSigningKey(key: KeyObject): Promise<SigningKey> {
  const desc = describeKey(key);
  const der = key.export({ type: 'pkcs8', format: 'der' });
  const spki = spkiDer(key);
  let importAlg: { name: string; hash?: string; namedCurve?: string };
  let algorithm: SignAlgorithm;
  if (desc.type === 'rsa') {
    importAlg = { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' };
    algorithm = { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' };
  } else if (desc.type === 'ec' && (desc.curve === 'P-256' || desc.curve === 'P-384')) {
    importAlg = { name: 'ECDSA', namedCurve: desc.curve };
    algorithm = { name: 'ECDSA', hash: desc.curve === 'P-384' ? 'SHA-384' : 'SHA-256' };
  } else {
    throw new TaskError(`cannot sign with a ${desc.label} key`, { hint: 'use an RSA or an EC P-256/P-384 key' });
  }
  const [priv, pub] = await Promise.all([
    webcrypto.subtle.importKey('pkcs8', der, importAlg, false, ['sign']),
    webcrypto.subtle.importKey('spki', spki, importAlg, true, ['verify']),
  ]);
  return { key: priv, publicKey: pub, algorithm };
}

/** A WebCrypto signature algorithm as @peculiar/x509 takes it. */
export type SignAlgorithm = { name: string; hash: string };

/** A cause that carries OpenSSL's reason but never input bytes. */
function safeCause(e: unknown): Error {
  const code = (e as { code?: unknown }).code;
  return new Error(typeof code === 'string' ? code : 'key decoding failed');
}
